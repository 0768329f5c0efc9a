"""Stage 10, smoke: install a press's wheels into a fresh environment, import them, run code.

The wheels wait in the hidden folder of the output folder while this runs: a failure lands
none. The environment is a new venv of the target CPython (:mod:`condapress.smoke._python`
finds it), filled by condapress's own pip (``pip --python``) with pip's configuration, so the
requirements that are not among the wheels come from the index pip uses. Every import and the
code run isolated (``python -I``), from an empty folder.
"""

from __future__ import annotations

import logging
import zipfile
from typing import TYPE_CHECKING

from condapress import _tools
from condapress.errors import SmokeError, ToolError, printable
from condapress.smoke._python import find_python

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from condapress.model import SmokeOptions

__all__ = ["importable_names", "smoke"]

logger = logging.getLogger(__name__)

_MODULE_SUFFIXES = (".py", ".so", ".pyd")
_NOTHING = "no wheel was written; "
_HINTS = {
    "venv": "check that the interpreter has its venv module (Debian: apt install pythonX.Y-venv)",
    "install": "a requirement that is neither among the wheels pressed together nor on the "
    "index pip uses is the usual cause: press it too, or point pip at an index that has it "
    "(PIP_INDEX_URL); run with -v for pip's output",
    "check": "run with -v for pip's report of what the wheels require",
    "import": "run with -v for the traceback; a library or module the wheel needs but does not "
    "carry is the usual cause",
    "code": "run with -v for the code's output",
}


def smoke(wheels: Sequence[Path], options: SmokeOptions, *, python: str, work: Path) -> None:
    """Install *wheels* into a fresh CPython *python* venv in *work*, check, import, run.

    :raises SmokeError: no interpreter; pip cannot install the wheels or ``pip check`` fails;
        an import fails; the code fails. The message names what failed with the last line of
        its output; the whole output is the error's detail.
    """
    interpreter = find_python(python, options.python)
    _tools.pip_command()
    venv = work / "venv"
    try:
        venv_python = _tools.make_venv(interpreter, venv)
    except ToolError as exc:
        raise _failed(f"cannot make a virtual environment with {interpreter}", "venv", exc) from exc
    where = f"a fresh CPython {python} environment"
    try:
        _tools.pip(venv_python, "install", *map(str, wheels))
    except ToolError as exc:
        raise _failed(f"pip cannot install the wheels into {where}", "install", exc) from exc
    try:
        _tools.pip(venv_python, "check")
    except ToolError as exc:
        raise _failed("pip check finds requirements the wheels leave unmet", "check", exc) from exc
    empty = work / "cwd"
    empty.mkdir(parents=True)
    for wheel in wheels:
        for name in importable_names(_members(wheel)):
            try:
                _tools.run_python(venv_python, "-c", f"import {name}", cwd=empty)
            except ToolError as exc:
                message = f"import {name} (from {wheel.name}) fails in {where}"
                raise _failed(message, "import", exc) from exc
            logger.info("smoke test: import %s works", name)
    if options.code:
        try:
            output = _tools.run_python(venv_python, "-c", options.code, cwd=empty)
        except ToolError as exc:
            raise _failed("the --smoke code fails", "code", exc) from exc
        logger.info("smoke test: the code works; its output:\n%s", output.rstrip())


def _failed(what: str, step: str, exc: ToolError) -> SmokeError:
    # the tool's last line: "ModuleNotFoundError: No module named 'x'", "ERROR: No matching..."
    last = exc.message.split(": ", 1)[1] if ": " in exc.message else exc.message
    message = f"smoke test: {what}: {printable(last)}"
    return SmokeError(message, hint=_NOTHING + _HINTS[step], detail=exc.detail)


def _members(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def importable_names(members: Iterable[str]) -> list[str]:
    """The top-level modules and packages a wheel with *members* installs, sorted.

    A folder without ``__init__.py`` is a namespace: the packages and modules in it count
    instead. ``.dist-info``, ``.data`` and ``.libs`` folders are not importable.

    >>> importable_names(["pkg/__init__.py", "mod.py", "ns/sub/__init__.py", "ns/m.py",
    ...                   "ext.cpython-311-x86_64-linux-gnu.so", "pkg.libs/libx.so",
    ...                   "pkg-1.0.dist-info/RECORD", "pkg-1.0.data/scripts/x"])
    ['ext', 'mod', 'ns.m', 'ns.sub', 'pkg']
    """
    files = {m for m in members if not m.endswith("/")}
    return sorted(_names(files, ""))


def _names(files: set[str], prefix: str) -> set[str]:
    """The importable names at folder *prefix* of *files* (paths under it, relative)."""
    names: set[str] = set()
    folders: set[str] = set()
    for path in files:
        head, sep, _ = path.partition("/")
        if sep:
            folders.add(head)
        elif head.endswith(_MODULE_SUFFIXES) and head != "__init__.py":
            stem = head.split(".")[0]
            if stem.isidentifier():
                names.add(prefix + stem)
    for folder in folders:
        # pkg.libs, pkg-1.0.dist-info and pkg-1.0.data are no names; __pycache__ holds no module
        if not folder.isidentifier() or folder == "__pycache__":
            continue
        inside = {p.partition("/")[2] for p in files if p.startswith(f"{folder}/")}
        if "__init__.py" in inside or any(p.startswith("__init__.") for p in inside):
            names.add(prefix + folder)
        else:
            names |= _names(inside, f"{prefix}{folder}.")
    return names
