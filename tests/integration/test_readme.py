"""README.md's press commands print what README.md says they print.

Each ``condapress`` command of README.md that is followed by ``wheelhouse/...`` lines (before
the next command) is run as written, from an empty folder, and its standard output must be
those lines exactly: names, tags, sizes and members.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from typing import TYPE_CHECKING

import pytest

from condapress._cli import main
from support import REPO

if TYPE_CHECKING:
    from pathlib import Path

COMMAND = re.compile(r"^ {4}(?:.*&& )?\.venv/bin/condapress (?P<argv>.*)$")
OUTPUT = re.compile(r"^ {4}(?P<line>wheelhouse/\S+\.whl .*)$")


def readme_examples() -> dict[str, list[str]]:
    """Each command's arguments -> the output lines README.md shows after it."""
    examples: dict[str, list[str]] = {}
    current: str | None = None
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        if command := COMMAND.match(line):
            current = command["argv"]
            examples[current] = []
        elif (output := OUTPUT.match(line)) and current is not None:
            examples[current].append(output["line"])
    return {argv: lines for argv, lines in examples.items() if lines}


EXAMPLES = readme_examples()


def test_readme_shows_the_output_of_its_main_job_and_of_each_platform() -> None:
    commands = " ".join(EXAMPLES)
    assert "pygreet salutation-python -c channels_fixture" in commands
    assert "--subdir osx-arm64" in commands
    assert "--subdir osx-64" in commands
    assert "--subdir win-64" in commands


@pytest.mark.parametrize("argv", list(EXAMPLES))
def test_a_readme_command_prints_what_the_readme_shows(
    argv: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # the channels README.md names relative to the checkout
    args = [str(REPO / a) if (REPO / a).exists() else a for a in shlex.split(argv)]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main([*args, "--cache-dir", str(tmp_path / "cache"), "-q"])
    assert status == 0, stderr.getvalue()
    assert stdout.getvalue().splitlines() == EXAMPLES[argv]
