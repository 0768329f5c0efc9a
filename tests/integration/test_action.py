"""The GitHub Action (action.yml): its structure, the CLI options it uses, and its scripts run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from condapress._cli import main
from support import FIXTURE_CHANNEL, REPO

ACTION = REPO / "action.yml"
_INPUT = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}")
_STEP_OUTPUT = re.compile(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.[\w-]+\s*\}\}")


def action() -> dict[str, Any]:
    document = yaml.safe_load(ACTION.read_text())
    assert isinstance(document, dict)
    return document


def step(name: str) -> dict[str, Any]:
    [found] = [s for s in action()["runs"]["steps"] if s["name"] == name]
    assert isinstance(found, dict)
    return found


def help_text(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


def test_a_composite_action_with_its_inputs_and_steps() -> None:
    document = action()
    assert document["runs"]["using"] == "composite"
    inputs = document["inputs"]
    assert set(inputs) == {
        "specs",
        "channels",
        "python-versions",
        "fat",
        "smoke",
        "output-dir",
        "upload",
        "repository-url",
        "token",
        "condapress-version",
    }
    assert all(spec.get("description") for spec in inputs.values())
    assert inputs["specs"]["required"] is True
    steps = document["runs"]["steps"]
    assert [s["name"] for s in steps] == [
        "Read the inputs",
        "Set up every target CPython",
        "Install condapress",
        "Press",
        "Check against PyPI's rules",
        "Upload",
    ]
    assert steps[1]["uses"].startswith("actions/setup-python@")
    ids = {s["id"] for s in steps if "id" in s}
    text = ACTION.read_text()
    assert set(_INPUT.findall(text)) <= set(inputs)  # no reference to an input that is not one
    assert set(_STEP_OUTPUT.findall(text)) <= ids
    for s in steps:
        # a composite action's run step must name its shell; inputs reach scripts through env,
        # never pasted into the script (script injection)
        if "run" in s:
            assert s["shell"] == "bash"
            assert not _INPUT.search(s["run"]), s["name"]


@pytest.mark.parametrize(
    ("name", "command"),
    [("Press", "press"), ("Check against PyPI's rules", "check"), ("Upload", "upload")],
)
def test_every_option_the_action_uses_exists(
    name: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    script = step(name)["run"]
    assert f"condapress {command} " in script
    listed = set(re.findall(r"--[a-z][a-z-]*", help_text(command, capsys)))
    used = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", script))
    assert used <= listed, used - listed


def test_the_scripts_are_bash() -> None:
    for s in action()["runs"]["steps"]:
        if "run" in s:
            subprocess.run(["bash", "-n", "-c", s["run"]], check=True)


def _run_step(name: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    condapress = shutil.which("condapress", path=str(Path(sys.executable).parent))
    assert condapress is not None
    path = f"{Path(condapress).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "-e", "-c", step(name)["run"]],
        env={**os.environ, "PATH": path, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )


def test_python_versions_become_setup_python_lines(tmp_path: Path) -> None:
    output = tmp_path / "github_output"
    env = {"PYTHON_VERSIONS": " 3.11  3.12\n3.13 ", "GITHUB_OUTPUT": str(output)}
    assert _run_step("Read the inputs", env, tmp_path).returncode == 0
    assert output.read_text() == "pythons<<CONDAPRESS_EOF\n3.11\n3.12\n3.13\nCONDAPRESS_EOF\n"


@pytest.mark.slow
def test_press_and_check_steps_run(tmp_path: Path) -> None:
    env = {
        "SPECS": "pygreet\nsalutation-python",
        "CHANNELS": str(FIXTURE_CHANNEL),
        "PYTHON_VERSIONS": "3.11 3.12",
        "FAT": "true",
        "SMOKE": "import pygreet; assert pygreet.libgreet_version() == 1",
        "OUTPUT_DIR": "dist",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # condapress's cache, as platformdirs finds it
        "PIP_NO_INDEX": "1",
        "PIP_CONFIG_FILE": os.devnull,
    }
    pressed = _run_step("Press", env, tmp_path)
    assert pressed.returncode == 0, pressed.stderr
    wheels = sorted(p.name for p in (tmp_path / "dist").iterdir())
    assert [w.split("-")[:3] for w in wheels] == [
        ["pygreet", "1.0.0", "cp311"],
        ["pygreet", "1.0.0", "cp312"],
        ["salutation", "1.2.0", "py3"],
    ]
    checked = _run_step("Check against PyPI's rules", env, tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.count(": PyPI takes it (0 errors, 0 warnings)") == 3
    # a smoke test that fails stops the step, and the job
    failing = _run_step("Press", {**env, "SMOKE": "raise SystemExit('no')"}, tmp_path)
    assert failing.returncode == 1
    assert "error: smoke test: the --smoke code fails: no" in failing.stderr
