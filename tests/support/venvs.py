"""Fresh virtual environments of a pyenv CPython, used with real pip (integration tier only)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


def cpython(version: str) -> Path:
    """The interpreter of CPython *version* (``X.Y``) from pyenv; skips the test when absent."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(root.glob(f"{version}.*/bin/python{version}"))
    if not found:
        pytest.skip(f"CPython {version} is not installed under {root} (pyenv install {version})")
    return found[-1]


@dataclass(frozen=True)
class Venv:
    """A fresh virtual environment made with the stdlib venv module, used with real pip."""

    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def run(self, *argv: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        result = subprocess.run(
            [str(a) for a in argv], capture_output=True, text=True, check=False, env=env
        )
        if check and result.returncode != 0:
            pytest.fail(f"{argv} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def pip(self, *argv: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        # The suite's own pip, pointed at this environment: real pip, without paying for
        # ensurepip in every venv. --isolated ignores the machine's pip configuration.
        pip = [sys.executable, "-m", "pip", "--isolated", "--python", str(self.python)]
        return self.run(*pip, *argv, check=check)


def make_venv(version: str, where: Path) -> Venv:
    """A fresh venv of CPython *version* at *where*, without pip of its own."""
    subprocess.run([str(cpython(version)), "-m", "venv", "--without-pip", str(where)], check=True)
    return Venv(where)
