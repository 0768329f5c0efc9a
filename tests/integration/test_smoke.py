"""press --smoke: real venvs of pyenv's CPython, real pip and imports; a failure lands nothing."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest

from condapress import _tools
from condapress._cli import main
from condapress.smoke import importable_names
from support import FIXTURE_CHANNEL
from support.venvs import cpython

if TYPE_CHECKING:
    from pathlib import Path

_INSTALL_HINT = (
    "hint: no wheel was written; a requirement that is neither among the wheels pressed together "
    "nor on the index pip uses is the usual cause: press it too, or point pip at an index that "
    "has it (PIP_INDEX_URL); run with -v for pip's output"
)


@pytest.fixture(autouse=True)
def offline_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip finds nothing but the wheels: no index, none of the machine's configuration."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")


def _press(tmp_path: Path, *argv: str) -> int:
    out, cache = tmp_path / "wheelhouse", tmp_path / "cache"
    return main(["-c", str(FIXTURE_CHANNEL), "--cache-dir", str(cache), "-o", str(out), *argv])


@pytest.mark.slow
def test_smoke_installs_imports_and_runs_the_code(tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    code = f"import pygreet; open({str(ran)!r}, 'w').write(pygreet.greet('Ada'))"
    argv = ["pygreet", "salutation-python", "--python", "3.11", "--fat", "--smoke", code, "-q"]
    assert _press(tmp_path, *argv) == 0
    assert ran.read_text().startswith("Hello, Ada! (from share/libgreet/greeting.txt")
    assert len(list((tmp_path / "wheelhouse").iterdir())) == 2


@pytest.mark.slow
def test_a_requirement_pip_cannot_find_lands_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # salutation (pygreet's Requires-Dist) is neither pressed with it nor on an index
    assert _press(tmp_path, "pygreet", "--python", "3.12", "--fat", "--smoke", "-q") == 1
    assert capsys.readouterr().err.splitlines() == [
        (
            "error: smoke test: pip cannot install the wheels into a fresh CPython 3.12 "
            "environment: ERROR: No matching distribution found for salutation>=1.2 (from "
            "pygreet)"
        ),
        _INSTALL_HINT,
    ]
    assert not (tmp_path / "wheelhouse").exists()


@pytest.mark.slow
def test_pip_check_finds_what_the_install_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_DEPS", "1")  # a pip configured not to install requirements
    assert _press(tmp_path, "pygreet", "--python", "3.12", "--fat", "--smoke", "-q") == 1
    assert capsys.readouterr().err.splitlines() == [
        (
            "error: smoke test: pip check finds requirements the wheels leave unmet: pygreet 1.0.0 "
            "requires salutation, which is not installed."
        ),
        "hint: no wheel was written; run with -v for pip's report of what the wheels require",
    ]
    assert not (tmp_path / "wheelhouse").exists()


@pytest.mark.slow
def test_failing_code_lands_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = "import pygreet; assert pygreet.libgreet_version() == 2, 'not libgreet 2'"
    argv = ["pygreet", "salutation-python", "--python", "3.11", f"--smoke={code}", "-q", "-v"]
    assert _press(tmp_path, *argv) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: smoke test: the --smoke code fails: AssertionError: not libgreet 2"
    assert "Traceback (most recent call last):" in err  # the output, with -v
    assert err[-1] == "hint: no wheel was written"  # -v was given: no "run with -v" in the hint
    assert not (tmp_path / "wheelhouse").exists()


def _broken_package(folder: Path) -> Path:
    """A noarch package whose module imports a module that nothing provides."""
    from support.conda_archives import M, Package, index

    package = Package(
        payload=[M("site-packages/broken/__init__.py", b"import missing_module_of_broken\n")],
        index=index(name="broken", depends=[], noarch="python", subdir="noarch"),
    )
    folder.mkdir(parents=True, exist_ok=True)
    return package.conda(folder, "broken-1.0-h0_0.conda")


@pytest.mark.slow
def test_an_import_that_fails_lands_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _broken_package(tmp_path / "feedstock")
    assert _press(tmp_path, str(archive), "--python", "3.11", "--smoke", "-q") == 1
    assert capsys.readouterr().err.splitlines() == [
        (
            "error: smoke test: import broken (from broken-1.0-py3-none-any.whl) fails in a fresh "
            "CPython 3.11 environment: ModuleNotFoundError: No module named "
            "'missing_module_of_broken'"
        ),
        (
            "hint: no wheel was written; run with -v for the traceback; a library or module the "
            "wheel needs but does not carry is the usual cause"
        ),
    ]
    assert not (tmp_path / "wheelhouse").exists()


def test_no_interpreter_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    assert _press(tmp_path, "tally", "--python", "3.12", "--smoke", "-q") == 1
    assert capsys.readouterr().err.splitlines() == [
        (
            "error: no CPython 3.12 to smoke-test the wheels with: none on PATH as python3.12, "
            f"none in {tmp_path}/pyenv/versions"
        ),
        "hint: install it (pyenv install 3.12) or name one with --smoke-python PATH",
    ]
    assert not (tmp_path / "wheelhouse").exists()


def test_smoke_python_of_another_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    python = cpython("3.12")
    argv = ["tally", "--python", "3.11", "--smoke-python", str(python), "-q"]
    assert _press(tmp_path, *argv) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: --smoke-python {python} is CPython 3.12, but the wheels are for CPython 3.11",
        "hint: name a CPython 3.11 interpreter, or press for --python 3.12",
    ]
    assert _press(tmp_path, *argv[:3], "--smoke-python", "/bin/false", "-q") == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: --smoke-python /bin/false is not a Python interpreter that runs",
        "hint: name the path of a CPython 3.11 executable, e.g. /usr/bin/python3.11",
    ]


def test_pip_missing_from_condapress_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a pip that cannot be imported, as in an environment made without it
    shadow = tmp_path / "shadow" / "pip"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named pip')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    _tools.pip_command.cache_clear()
    try:
        assert _press(tmp_path, "tally", "--python", "3.11", "--smoke", "-q") == 1
    finally:
        _tools.pip_command.cache_clear()
    assert capsys.readouterr().err.splitlines() == [
        f"error: pip is not installed in condapress's environment ({sys.executable})",
        f"hint: install it there: {sys.executable} -m ensurepip",
    ]


def test_importable_names() -> None:
    members = [
        "pkg/__init__.py",
        "pkg/sub/__init__.py",
        "mod.py",
        "ext.cpython-311-x86_64-linux-gnu.so",
        "cyext/__init__.cpython-311-x86_64-linux-gnu.so",
        "ns/deeper/pkg/__init__.py",
        "ns/deeper/mod.py",
        "ns/data.txt",
        "__pycache__/mod.cpython-311.pyc",
        "pkg.libs/libx-12345678.so.1",
        "pkg-1.0.dist-info/METADATA",
        "pkg-1.0.data/scripts/tool",
        "not-a-name/__init__.py",
        "README.txt",
        "folder/",
    ]
    assert importable_names(members) == [
        "cyext",
        "ext",
        "mod",
        "ns.deeper.mod",
        "ns.deeper.pkg",
        "pkg",
    ]
    # a native wheel (libraries, executables behind launchers) has nothing to import
    assert (
        importable_names(["tally_conda.libs/bin/tally", "tally_conda-0.3.0.data/scripts/tally"])
        == []
    )
