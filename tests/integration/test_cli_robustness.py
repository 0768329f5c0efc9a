"""The ``condapress`` command under the mistakes and accidents of real use.

Errors end the same way every time, through the installed console script; an output place that
cannot take the result is refused before any work; a closed pipe ends the output quietly.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from condapress import PressOptions, SolveRequest, _folders, press
from condapress._cli import main
from condapress.errors import OutputError
from support import FIXTURE_CHANNEL
from support.presses import messages, messages_text

if TYPE_CHECKING:
    from collections.abc import Iterator

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
                "hint: relax the spec or pick another --python; run with -v for the solver's full "
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
        return done.returncode, done.stdout, messages_text(done.stderr)

    # Two at a time (the machine has two cores), thirty times: a race at interpreter shutdown
    # used to abort about one run in ten with "Fatal Python error: PyGILState_Release".
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(plan, range(30)))
    wanted = (1, "", "".join(line.format(tmp=tmp_path) + "\n" for line in lines))
    assert [o for o in outcomes if o != wanted] == []


# -- an output place that cannot take the result is refused before any work --------------------


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, list[str], str]]:
    """A folder nobody may write to: (folder, command prefix to run in, the reason given).

    An ordinary user gets a folder without write permission. root writes anywhere, so for root
    the command runs in a mount namespace of its own where the folder is bind-mounted read-only.
    """
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder, [], "permission denied"
        folder.chmod(0o755)
        return
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c"]
    prefix += ['mount --bind -o ro "$0" "$0" && exec "$@"', str(folder)]
    if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("root needs a read-only bind mount (unshare --mount) for this test")
    yield folder, prefix, "read-only file system"


def _unusable(
    tmp_path: Path, read_only: tuple[Path, list[str], str], case: str
) -> tuple[Path, list[str], str]:
    """(path, command prefix, what the error says after the path) for each unusable place."""
    (tmp_path / "a-file").write_text("not a folder")
    folder, prefix, reason = read_only
    return {
        "a-file": (tmp_path / "a-file", [], "it is not a folder"),
        "under-a-file": (tmp_path / "a-file" / "out", [], f"{tmp_path / 'a-file'} is not a folder"),
        "read-only": (folder, prefix, reason),
        "under-read-only": (folder / "out", prefix, f"{reason} in {folder}"),
    }[case]


@pytest.mark.parametrize("case", ["a-file", "under-a-file", "read-only", "under-read-only"])
def test_an_output_folder_that_cannot_take_the_wheels_is_refused_first(
    case: str, tmp_path: Path, read_only: tuple[Path, list[str], str]
) -> None:
    out, prefix, problem = _unusable(tmp_path, read_only, case)
    before = sorted(tmp_path.rglob("*"))
    # The channel is not there either: only a check made before the solve names the output.
    done = subprocess.run(
        [*prefix, CONSOLE_SCRIPT, "pygreet", "-c", tmp_path / "nochannel", "-o", out],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr.splitlines()) == (
        1,
        "",
        [
            f"error: cannot write wheels to {out}: {problem}",
            "hint: choose another output folder with -o",
        ],
    )
    assert sorted(tmp_path.rglob("*")) == before


def test_press_checks_its_output_folder_first(tmp_path: Path) -> None:
    """The library refuses it too, not only the command line."""
    (tmp_path / "a-file").write_text("not a folder")
    request = SolveRequest(specs=("pygreet",), channels=(str(tmp_path / "nochannel"),))
    with pytest.raises(OutputError) as refused:
        press(request, PressOptions(output_dir=tmp_path / "a-file"))
    assert str(refused.value) == f"cannot write wheels to {tmp_path / 'a-file'}: it is not a folder"


@pytest.mark.parametrize("case", ["a-folder", "no-folder", "under-a-file", "read-only"])
def test_a_graph_file_that_cannot_be_written_is_refused_first(
    case: str, tmp_path: Path, read_only: tuple[Path, list[str], str]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    folder, ro_prefix, reason = read_only
    graph, prefix, problem = {
        "a-folder": (tmp_path, [], "it is a folder"),
        "no-folder": (tmp_path / "none" / "g.dot", [], f"no such folder: {tmp_path / 'none'}"),
        "under-a-file": (
            tmp_path / "a-file" / "g.dot",
            [],
            f"{tmp_path / 'a-file'} is not a folder",
        ),
        "read-only": (folder / "g.dot", ro_prefix, f"{reason} in {folder}"),
    }[case]
    before = sorted(tmp_path.rglob("*"))
    done = subprocess.run(
        [
            *prefix,
            CONSOLE_SCRIPT,
            "plan",
            "pygreet",
            "-c",
            tmp_path / "nochannel",
            "--graph",
            graph,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"error: cannot write {graph}: {problem}\nhint: choose a folder you can write to\n",
    )
    assert sorted(tmp_path.rglob("*")) == before


# -- a closed pipe ends the output quietly -----------------------------------------------------


def _tiny_wheel(folder: Path) -> Path:
    """A small pure wheel, for ``condapress audit``."""
    wheel = folder / "tiny-1.0-py3-none-any.whl"
    files = {
        "tiny/__init__.py": b"",
        "tiny-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tiny\nVersion: 1.0\n",
        "tiny-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("tiny-1.0.dist-info/RECORD", "".join(f"{n},,\n" for n in files))
    return wheel


@pytest.mark.parametrize("how", ["console-script", "python-m"])
@pytest.mark.parametrize("command", ["audit", "plan"])
def test_a_closed_pipe_ends_quietly(command: str, how: str, tmp_path: Path) -> None:
    argv: list[str | Path]
    if command == "audit":
        argv = ["audit", _tiny_wheel(tmp_path), _tiny_wheel(tmp_path)]
    else:
        argv = [
            "plan",
            "pygreet",
            "-c",
            FIXTURE_CHANNEL,
            "--python",
            "3.11",
            "--cache-dir",
            tmp_path,
        ]
    runner = [CONSOLE_SCRIPT] if how == "console-script" else [sys.executable, "-m", "condapress"]
    with subprocess.Popen(
        [*runner, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        process.stdout.close()  # the reader has gone before the first line (| head -0)
        _, stderr = process.communicate(timeout=120)
    assert (process.returncode, messages_text(stderr)) == (141, "")


# -- wheels land all or none ---------------------------------------------------------------------


def _press(capsys: pytest.CaptureFixture[str], out: Path, cache: Path) -> tuple[int, list[str]]:
    """Press pygreet (three wheels) in this process: the status and the lines of output."""
    argv = ["pygreet", "-c", str(FIXTURE_CHANNEL), "--python", "3.11", "--cache-dir", str(cache)]
    status = main([*argv, "-o", str(out)])
    captured = capsys.readouterr()
    lines = captured.out.splitlines() if status == 0 else messages(captured.err.splitlines())
    return status, [line for line in lines if not line.startswith("WARNING: ")]


def test_a_folder_named_like_a_wheel_stops_the_landing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = _press(capsys, tmp_path / "first", tmp_path / "cache")
    assert status == 0, lines
    names = [Path(line.split()[0]).name for line in lines]
    assert len(names) == 3  # pygreet, libgreetpp-conda, libgreet-conda
    out = tmp_path / "out"
    out.mkdir()
    (out / names[0]).write_bytes(b"an older wheel")
    (out / names[1]).mkdir()  # in the way of the second wheel
    (out / names[1] / "notes").write_text("mine")
    status, lines = _press(capsys, out, tmp_path / "cache")
    assert (status, lines) == (
        1,
        [
            f"error: cannot write {out / names[1]}: a folder of that name is in the way",
            "hint: move or rename that folder, or choose another output folder with -o",
        ],
    )
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == sorted(
        [names[0], names[1], f"{names[1]}/notes"]
    )
    assert (out / names[0]).read_bytes() == b"an older wheel"


def test_a_failed_move_takes_back_the_wheels_already_moved(tmp_path: Path) -> None:
    out, pending, spare = tmp_path / "out", tmp_path / "pending", tmp_path / "spare"
    for folder in (out, pending, spare):
        folder.mkdir()
    (out / "a.whl").write_bytes(b"the older a")
    (pending / "a.whl").write_bytes(b"a")
    (pending / "c.whl").write_bytes(b"c")
    with pytest.raises(OutputError) as refused:  # b.whl has gone before its turn
        _folders.land([pending / "a.whl", pending / "c.whl", pending / "b.whl"], out, spare)
    assert str(refused.value) == (
        f"cannot move b.whl into {out}: no such file or directory; no wheel was written"
    )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {"a.whl": b"the older a"}


# -- work folders of killed runs are reclaimed, nothing else ---------------------------------------

#: Holds a work folder the way a press does, until it is killed.
_HOLD_A_WORK_FOLDER = """\
import sys, time
from pathlib import Path
from condapress import _folders

with _folders.work_folder(Path(sys.argv[1]), sys.argv[2]) as folder:
    (folder / "data").write_text("work in progress")
    print(folder, flush=True)
    time.sleep(600)
"""


@contextlib.contextmanager
def holding(parent: Path, prefix: str) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A process that works in a work folder in *parent*, and that folder."""
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD_A_WORK_FOLDER, str(parent), prefix],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        folder = Path(process.stdout.readline().strip())
        try:
            yield process, folder
        finally:
            process.kill()


def test_only_the_work_folders_of_killed_runs_are_reclaimed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out, tmp, elsewhere = tmp_path / "out", tmp_path / "tmp", tmp_path / "elsewhere"
    for folder in (out, tmp, elsewhere):
        folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    with contextlib.ExitStack() as stack:
        kept, reclaimed = [], []
        for parent, prefix in ((out, ".condapress-"), (tmp, "condapress-")):
            killed, folder = stack.enter_context(holding(parent, prefix))
            killed.kill()  # SIGKILL: its folder stays behind, unlocked
            killed.wait()
            reclaimed.append(folder)
            live = stack.enter_context(holding(parent, prefix))[1]
            # Named like work folders, but not condapress's: a user's own (also with the pid
            # of no process), one whose marker says something else, and a link to a folder
            # that a killed run left elsewhere.
            mine, forged, link = (parent / f"{prefix}{n}" for n in ("99999999-mine", "x", "link"))
            mine.mkdir()
            (mine / "notes").write_text("mine")
            forged.mkdir()
            (forged / _folders.MARKER).write_text("mine too")
            other, target = stack.enter_context(holding(elsewhere, prefix))
            other.kill()
            other.wait()
            link.symlink_to(target, target_is_directory=True)
            kept += [live, live / "data", mine, mine / "notes", forged, link, target]
        status, lines = _press(capsys, out, tmp_path / "cache")
        assert status == 0, lines
        assert [p for p in reclaimed if os.path.lexists(p)] == []
        assert [p for p in kept if not os.path.lexists(p)] == []
        assert len(list(out.glob("*.whl"))) == 3
