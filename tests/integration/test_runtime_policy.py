"""--runtime system vs bundle on conda-forge's GCC 13 runtime (../shared/realworld/cf2024)."""

from __future__ import annotations

import io
import json
import subprocess
import sysconfig
import zipfile
from contextlib import redirect_stdout
from typing import TYPE_CHECKING

import pytest

from condapress._cli import main
from condapress.audit import audit_wheel
from support import REALWORLD
from support.conda_archives import M, Package, index
from support.native import compile_source
from support.venvs import cpython, make_venv

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.realworld

EXT = "cxxdemo.cpython-310-x86_64-linux-gnu.so"
# std::from_chars for double is GCC 11's (GLIBCXX_3.4.29), and needs nothing newer from glibc
# than 2.14: the C++ runtime alone decides how compatible the wheel can be.
SOURCE = r"""
#include <Python.h>
#include <charconv>
#include <string>
static PyObject *double_it(PyObject *, PyObject *args) {
    const char *text;
    if (!PyArg_ParseTuple(args, "s", &text)) return nullptr;
    std::string s(text);
    double value = 0;
    auto result = std::from_chars(s.data(), s.data() + s.size(), value);
    if (result.ec != std::errc()) {
        PyErr_SetString(PyExc_ValueError, "not a number");
        return nullptr;
    }
    return PyFloat_FromDouble(value * 2);
}
static PyMethodDef methods[] = {
    {"double_it", double_it, METH_VARARGS, nullptr}, {nullptr, nullptr, 0, nullptr}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "cxxdemo", nullptr, -1, methods};
PyMODINIT_FUNC PyInit_cxxdemo(void) { return PyModule_Create(&module); }
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not REALWORLD.is_dir():
        pytest.skip("../shared/realworld is absent: the conda-forge archive tier needs it")
    tmp = tmp_path_factory.mktemp("cxx")
    include = subprocess.run(
        [str(cpython("3.10")), "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    flags = ("-std=c++17", "-O2", "-shared", "-fPIC", f"-I{include}")
    ext = compile_source("g++", SOURCE, tmp / EXT, *flags)
    payload = [M(f"lib/python3.10/site-packages/{EXT}", ext.read_bytes())]
    depends = [
        "libgcc-ng >=13",
        "libstdcxx-ng >=13",
        "python >=3.10,<3.11.0a0",
        "python_abi 3.10.* *_cp310",
    ]
    demo = Package(payload=payload, index=index(name="cxxdemo", build="py310h0_0", depends=depends))
    return demo.conda(tmp, "cxxdemo-1.0-py310h0_0.conda")


def press(package: Path, out: Path, runtime: str) -> Path:
    argv = [str(package), "-c", str(REALWORLD / "cf2024"), "--python", "3.10", "--fat"]
    argv += ["--runtime", runtime, "-o", str(out), "--cache-dir", str(out.parent / "cache")]
    with redirect_stdout(io.StringIO()):
        assert main(argv) == 0
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.mark.parametrize(
    ("runtime", "tag", "grafted", "pressed"),
    [
        ("system", "manylinux_2_34_x86_64", [], ["cxxdemo"]),
        (
            "bundle",
            "manylinux_2_17_x86_64.manylinux2014_x86_64",
            ["cxxdemo.libs/libgcc_s-", "cxxdemo.libs/libstdc++-"],
            ["cxxdemo", "libgcc-ng", "libstdcxx-ng"],
        ),
    ],
)
def test_runtime_policy(
    package: Path, tmp_path: Path, runtime: str, tag: str, grafted: list[str], pressed: list[str]
) -> None:
    wheel = press(package, tmp_path / "out", runtime)
    assert wheel.name == f"cxxdemo-1.0-cp310-cp310-{tag}.whl"
    with zipfile.ZipFile(wheel) as archive:
        libs = sorted(n for n in archive.namelist() if n.startswith("cxxdemo.libs/"))
        provenance = json.loads(archive.read("cxxdemo-1.0.dist-info/conda-packages.json"))
    assert [lib[: len(prefix)] for lib, prefix in zip(libs, grafted, strict=True)] == grafted
    assert provenance["runtime"] == runtime
    # the runtime packages whose libraries were grafted are pressed in, with their licenses
    assert [p["name"] for p in provenance["packages"]] == pressed

    report = audit_wheel(wheel)
    assert report.ok
    assert report.runtime == runtime
    if runtime == "system":
        # the tag is the one its GLIBCXX needs, and the audit says why
        assert report.verdict.limits[0] == f"{EXT} needs GLIBCXX_3.4.29 (from libstdc++.so.6)"
    else:
        assert [f.code for f in report.findings if f.code == "bundled-libstdcxx"] == [
            "bundled-libstdcxx"
        ]

    venv = make_venv("3.10", tmp_path / "venv")
    venv.pip("install", "--no-index", "--no-deps", wheel)
    code = "import cxxdemo; print(cxxdemo.double_it('1.25'))"
    assert venv.run(venv.python, "-c", code).stdout == "2.5\n"


def test_plan_says_which_policy(package: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", str(package), "-c", str(REALWORLD / "cf2024"), "--python", "3.10", "--fat"]
    assert main([*argv, "--runtime", "bundle"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith(", fat, runtime bundle")
    assert "compiler runtime, bundled under mangled names (--runtime bundle)" in out
    assert sysconfig.get_platform().startswith("linux")
