// pygreet._pygreet: CPython extension (raw C API) exposing libgreetpp.
//
//   greet(name: str) -> str       libgreet's greeting, read from its data file
//   datadir() -> str              the data directory libgreet resolved
//   libgreet_version() -> int     major version of the loaded libgreet
//
// libgreet/libgreetpp failures are raised as RuntimeError.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <greetpp.h>

#include <exception>
#include <string>

static PyObject *raise_runtime_error(const std::exception &exc) {
    PyErr_SetString(PyExc_RuntimeError, exc.what());
    return nullptr;
}

static PyObject *pygreet_greet(PyObject *, PyObject *arg) {
    Py_ssize_t size = 0;
    const char *name = PyUnicode_AsUTF8AndSize(arg, &size);
    if (name == nullptr) {
        return nullptr;
    }
    try {
        std::string msg = greetpp::greet(std::string(name, static_cast<size_t>(size)));
        return PyUnicode_FromStringAndSize(msg.data(), static_cast<Py_ssize_t>(msg.size()));
    } catch (const std::exception &exc) {
        return raise_runtime_error(exc);
    }
}

static PyObject *pygreet_datadir(PyObject *, PyObject *) {
    try {
        std::string dir = greetpp::datadir();
        return PyUnicode_DecodeFSDefaultAndSize(dir.data(), static_cast<Py_ssize_t>(dir.size()));
    } catch (const std::exception &exc) {
        return raise_runtime_error(exc);
    }
}

static PyObject *pygreet_libgreet_version(PyObject *, PyObject *) {
    return PyLong_FromLong(greetpp::libgreet_version());
}

static PyMethodDef pygreet_methods[] = {
    {"greet", pygreet_greet, METH_O, "greet(name, /) -> str\n\nlibgreet's greeting for name."},
    {"datadir", pygreet_datadir, METH_NOARGS, "datadir() -> str\n\nThe data directory libgreet uses."},
    {"libgreet_version", pygreet_libgreet_version, METH_NOARGS,
     "libgreet_version() -> int\n\nMajor version of the loaded libgreet."},
    {nullptr, nullptr, 0, nullptr},
};

static struct PyModuleDef pygreet_module = {
    PyModuleDef_HEAD_INIT,
    "pygreet._pygreet",
    "Bindings to libgreetpp.",
    -1,
    pygreet_methods,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

PyMODINIT_FUNC PyInit__pygreet(void) { return PyModule_Create(&pygreet_module); }
