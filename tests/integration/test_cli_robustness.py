"""The ``condapress`` command under the mistakes and accidents of real use.

Errors end the same way every time, through the installed console script; an output place that
cannot take the result is refused before any work; a closed pipe ends the output quietly.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import FIXTURE_CHANNEL

CONSOLE_SCRIPT = Path(sys.executable).parent / "condapress"
REPODATA_HINT = (
    "hint: check the channel name, URL or folder (a local channel needs <subdir>/repodata.json "
    "and noarch/repodata.json) and your network connection"
)


def run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``condapress`` console script, as a user runs it."""
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *map(str, argv)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=120,
    )


# -- an expected error ends the process cleanly, every time --------------------------------------

#: (argv after ``plan``, the expected stderr lines) of the errors raised while py-rattler's
#: runtime is busy: a solver failure, an unknown package, a channel that is not there.
_SOLVER_ERRORS: dict[str, tuple[list[str | Path], list[str]]] = {
    "solver-failure": (
        ["pygreet >=9", "-c", FIXTURE_CHANNEL, "--python", "3.11"],
        [
            (
                "error: cannot solve 'pygreet >=9' for python 3.11 on linux-64: No candidates were "
                "found for pygreet >=9."
            ),
            (
                "hint: relax the spec, pick another --python, or run with -v for the solver's full "
                "explanation"
            ),
        ],
    ),
    "unknown-package": (
        ["nosuchpkg", "-c", FIXTURE_CHANNEL, "--python", "3.11"],
        [
            f"error: package 'nosuchpkg' is not on {FIXTURE_CHANNEL} for linux-64 or noarch",
            "hint: check the spelling, or add the channel that has it with -c",
        ],
    ),
    "missing-channel": (
        ["pygreet", "-c", "{tmp}/nochannel", "--python", "3.11"],
        [
            (
                "error: cannot read repodata from {tmp}/nochannel: could not find subdir 'noarch' "
                "in channel 'file://{tmp}/nochannel/'"
            ),
            REPODATA_HINT,
        ],
    ),
}


@pytest.mark.parametrize("error", list(_SOLVER_ERRORS))
def test_a_solver_error_exits_cleanly_every_time(error: str, tmp_path: Path) -> None:
    template, lines = _SOLVER_ERRORS[error]
    argv = [str(a).format(tmp=tmp_path) for a in template]

    def plan(attempt: int) -> tuple[int, str, str]:
        cache = tmp_path / f"cache-{attempt}"
        done = run("plan", *argv, "--subdir", "linux-64", "--cache-dir", cache)
        return done.returncode, done.stdout, done.stderr

    # Two at a time (the machine has two cores), thirty times: a race at interpreter shutdown
    # used to abort about one run in ten with "Fatal Python error: PyGILState_Release".
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(plan, range(30)))
    wanted = (1, "", "".join(line.format(tmp=tmp_path) + "\n" for line in lines))
    assert [o for o in outcomes if o != wanted] == []
