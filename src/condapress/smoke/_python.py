"""Find the CPython X.Y interpreter the smoke test makes its environment with."""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

from condapress import _tools
from condapress.errors import SmokeError, ToolError, printable

__all__ = ["find_python"]

logger = logging.getLogger(__name__)

# pyenv's folders of plain CPython releases (3.11.7), not 3.13.0t, pypy3.10-7.3 or 3.12-dev
_RELEASE = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def find_python(version: str, given: Path | None = None) -> Path:
    """The CPython *version* (``X.Y``) interpreter to smoke-test with.

    *given*, else ``pythonX.Y`` on PATH, else the newest ``X.Y.Z`` of pyenv's versions.

    :raises SmokeError: *given* is not CPython *version*; none is found.
    """
    if given is not None:
        return _given(version, given)
    candidates = []
    on_path = shutil.which(f"python{version}")
    if on_path is not None:
        candidates.append(Path(on_path))
    versions = _pyenv_versions()
    candidates += _pyenv_pythons(versions, version)
    for candidate in candidates:
        if _identity(candidate) == ("CPython", version):
            logger.info("smoke test with %s", candidate)
            return candidate
        logger.debug("%s is not CPython %s", candidate, version)
    raise SmokeError(
        f"no CPython {version} to smoke-test the wheels with: none on PATH as python{version}, "
        f"none in {printable(str(versions))}",
        hint=f"install it (pyenv install {version}) or name one with --smoke-python PATH",
    )


def _given(version: str, given: Path) -> Path:
    identity = _identity(given)
    if identity is None:
        raise SmokeError(
            f"--smoke-python {printable(str(given))} is not a Python interpreter that runs",
            hint=f"name the path of a CPython {version} executable, e.g. /usr/bin/python{version}",
        )
    if identity != ("CPython", version):
        found = " ".join(identity)
        raise SmokeError(
            f"--smoke-python {printable(str(given))} is {found}, but the wheels are for CPython "
            f"{version}",
            hint=f"name a CPython {version} interpreter, or press for --python {identity[1]}",
        )
    return given


def _identity(python: Path) -> tuple[str, str] | None:
    try:
        implementation, major, minor = _tools.python_identity(python)
    except (ToolError, ValueError):  # not runnable, or not a Python at all
        return None
    return implementation, f"{major}.{minor}"


def _pyenv_versions() -> Path:
    root = os.environ.get("PYENV_ROOT")
    found = Path(root) if root else _tools.pyenv_root()
    return (found or Path.home() / ".pyenv") / "versions"


def _pyenv_pythons(versions: Path, version: str) -> list[Path]:
    """The ``X.Y.Z/bin/pythonX.Y`` of pyenv's *versions* for *version*, the newest first."""
    try:
        entries = list(versions.iterdir())
    except OSError:
        return []
    releases = []
    for entry in entries:
        match = _RELEASE.fullmatch(entry.name)
        if match and f"{match[1]}.{match[2]}" == version:
            python = entry / "bin" / f"python{version}"
            if python.is_file():
                releases.append((int(match[3]), python))
    return [python for _, python in sorted(releases, reverse=True)]
