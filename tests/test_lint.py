"""The code base stays ruff- and mypy-strict-clean: checked as part of the suite."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from support import REPO


@pytest.mark.parametrize(
    "argv",
    [
        ["ruff", "check", "--no-cache", "."],
        ["ruff", "format", "--check", "--no-cache", "."],
        [sys.executable, "-m", "mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_clean(argv: list[str]) -> None:
    if argv[0] == "ruff":
        ruff = shutil.which("ruff", path=str(REPO / ".venv" / "bin")) or shutil.which("ruff")
        if ruff is None:
            pytest.skip("ruff is not installed: pip install -e . --group lint")
        argv = [ruff, *argv[1:]]
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
