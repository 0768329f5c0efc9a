"""A press configured in pyproject.toml for two pythons: every wheel lands, pip installs them."""

from __future__ import annotations

import contextlib
import io
import json
from typing import TYPE_CHECKING

from condapress._cli import main
from support import FIXTURE_CHANNEL
from support.venvs import make_venv

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

CONFIG = f"""\
[tool.condapress]
specs = ["pygreet", "salutation-python"]
channels = ["{FIXTURE_CHANNEL}"]
python = ["3.11", "3.12"]
subdir = "linux-64"
fat = true
cache-dir = "cache"

[tool.condapress.press]
output-dir = "dist"
"""
CP311 = "pygreet-1.0.0-cp311-cp311-manylinux_2_34_x86_64.whl"
CP312 = "pygreet-1.0.0-cp312-cp312-manylinux_2_34_x86_64.whl"
SALUTATION = "salutation-1.2.0-py3-none-any.whl"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def test_every_python_of_the_configuration_is_pressed_and_installs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(CONFIG)
    status, out, err = run("press", "--json", "-q")
    assert status == 0, err
    document = json.loads(out)
    assert [(p["python"], [w["filename"] for w in p["wheels"]]) for p in document["presses"]] == [
        ("3.11", [CP311, SALUTATION]),
        ("3.12", [CP312, SALUTATION]),
    ]
    dist = tmp_path / "dist"
    assert sorted(p.name for p in dist.iterdir()) == [CP311, CP312, SALUTATION]  # nothing else
    venv = make_venv("3.12", tmp_path / "venv")
    venv.pip("install", "--no-index", "--find-links", dist, "pygreet")
    code = "import pygreet; print(pygreet.greet('Ada'))"
    assert venv.run(venv.python, "-c", code).stdout.startswith("Hello, Ada!")
    # the command line wins: one python, another folder; one press line per wheel
    status, out, err = run("press", "--python", "3.11", "-o", "one", "-q")
    assert status == 0, err
    assert [line.split("  ")[0] for line in out.splitlines()] == [
        f"one/{CP311}",
        f"one/{SALUTATION}",
    ]


def test_a_python_that_fails_lands_no_wheel_of_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(CONFIG.replace('"3.12"', '"3.12", "3.9"'))
    status, out, err = run("press", "-q")
    assert (status, out) == (1, "")
    assert err == (
        f"error: no build of 'pygreet' on {FIXTURE_CHANNEL} is for python 3.9; its builds are "
        "for python 3.10, 3.11, 3.12\n"
        "hint: choose a python it has builds for, e.g. --python 3.10\n"
    )
    assert not (tmp_path / "dist").exists()  # made for the presses, gone with them
