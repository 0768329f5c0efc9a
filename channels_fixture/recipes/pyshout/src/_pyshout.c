/* pyshout._pyshout: CPython extension (raw C API) exposing libgreet 2.
 *
 *   shout(name: str) -> str       greet_shout(): the greeting in upper case
 *   greet(name: str) -> str       greet_message(): libgreet's greeting
 *   datadir() -> str              greet_datadir(): the data directory libgreet resolved
 *   libgreet_version() -> int     greet_version(): major version of the loaded libgreet
 *
 * libgreet failures are raised as RuntimeError("<function> failed: <greet_last_error()>").
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <greet.h>

#if LIBGREET_VERSION_MAJOR < 2
#error "pyshout needs libgreet 2 (greet_shout)"
#endif

static PyObject *raise_greet_error(const char *function)
{
    PyErr_Format(PyExc_RuntimeError, "%s failed: %s", function, greet_last_error());
    return NULL;
}

static PyObject *message_result(char *message, const char *function)
{
    if (message == NULL)
        return raise_greet_error(function);
    PyObject *result = PyUnicode_FromString(message);
    greet_free(message);
    return result;
}

static PyObject *pyshout_shout(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL)
        return NULL;
    return message_result(greet_shout(name), "greet_shout");
}

static PyObject *pyshout_greet(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL)
        return NULL;
    return message_result(greet_message(name), "greet_message");
}

static PyObject *pyshout_datadir(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    const char *dir = greet_datadir();
    if (dir == NULL)
        return raise_greet_error("greet_datadir");
    return PyUnicode_DecodeFSDefault(dir);
}

static PyObject *pyshout_libgreet_version(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromLong(greet_version());
}

static PyMethodDef pyshout_methods[] = {
    {"shout", pyshout_shout, METH_O, "shout(name, /) -> str\n\nlibgreet's greeting for name, in upper case."},
    {"greet", pyshout_greet, METH_O, "greet(name, /) -> str\n\nlibgreet's greeting for name."},
    {"datadir", pyshout_datadir, METH_NOARGS, "datadir() -> str\n\nThe data directory libgreet uses."},
    {"libgreet_version", pyshout_libgreet_version, METH_NOARGS,
     "libgreet_version() -> int\n\nMajor version of the loaded libgreet."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef pyshout_module = {
    PyModuleDef_HEAD_INIT,
    "pyshout._pyshout",
    "Bindings to libgreet 2.",
    -1,
    pyshout_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__pyshout(void) { return PyModule_Create(&pyshout_module); }
