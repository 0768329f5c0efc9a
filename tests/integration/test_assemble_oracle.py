"""Wheels that build_wheel writes, checked by twine and installed by pip into a fresh venv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from condapress.assemble import build_wheel
from condapress.model import CoreMetadata, WheelContents
from support.staged import pygreet, write

if TYPE_CHECKING:
    from pathlib import Path


def test_twine_check(tmp_path: Path) -> None:
    built = build_wheel(pygreet(tmp_path / "staged"), tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(built.path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout


@pytest.mark.slow
def test_pip_installs_pure_wheel(tmp_path: Path) -> None:
    """Real pip, a fresh venv, offline: metadata, entry points, scripts and modes survive."""
    stage = tmp_path / "stage"
    base = WheelContents(
        metadata=CoreMetadata(name="greet-base", version="1.0"),
        tags=("py3-none-any",),
        root_is_purelib=True,
        files=(("greet_base/__init__.py", write(stage / "base.py", b"")),),
    )
    pure = WheelContents(
        metadata=CoreMetadata(
            name="Greet.Pure",
            version="2.0",
            summary="Pure greetings",
            license_expression="BSD-3-Clause",
            requires_dist=("greet-base>=1", 'salutation>=1.2; python_version < "3"'),
        ),
        tags=("py3-none-any",),
        root_is_purelib=True,
        files=(
            ("greet_pure/__init__.py", write(stage / "init.py", b"def main():\n    print('hi')\n")),
            ("greet_pure/tool.sh", write(stage / "tool.sh", b"#!/bin/sh\necho tool\n", 0o755)),
            (
                "greet_pure-2.0.data/scripts/hello",
                write(stage / "hello", b"#!/bin/sh\necho hello\n"),
            ),
        ),
        executables=frozenset({"greet_pure-2.0.data/scripts/hello"}),
        entry_points=(("console_scripts", "greet", "greet_pure:main"),),
    )
    wheels = [str(build_wheel(c, tmp_path / "dist").path) for c in (base, pure)]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # --python lets the test suite's pip install into the venv, which saves ensurepip's seconds.
    pip = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check"]
    pip += ["--python", str(python)]
    subprocess.run([*pip, "install", "--no-index", "--no-deps", *wheels], check=True)
    script = (
        "import importlib.metadata as m, json; d = m.distribution('greet-pure'); "
        "print(json.dumps([d.metadata['Name'], d.version, d.requires, "
        "d.metadata['License-Expression'], [[e.group, e.name, e.value] for e in d.entry_points]]))"
    )
    seen = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(seen.stdout) == [
        "Greet.Pure",
        "2.0",
        ["greet-base>=1", 'salutation>=1.2; python_version < "3"'],
        "BSD-3-Clause",
        [["console_scripts", "greet", "greet_pure:main"]],
    ]
    for script, output in (("greet", "hi\n"), ("hello", "hello\n")):
        ran = subprocess.run([venv / "bin" / script], capture_output=True, text=True, check=True)
        assert ran.stdout == output
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert os.access(site / "greet_pure" / "tool.sh", os.X_OK)
    check = subprocess.run([*pip, "check"], capture_output=True, text=True, check=False)
    assert (check.returncode, check.stdout) == (0, "No broken requirements found.\n")
