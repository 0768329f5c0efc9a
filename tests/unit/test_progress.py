"""What the stages tell a reporter, recorded; and the plain lines condapress makes of it."""

from __future__ import annotations

import argparse
import io
import zipfile
from typing import TYPE_CHECKING

import pytest
from rich.console import Console

from condapress import solve, unpack
from condapress._cli._live import RichReporter
from condapress._cli._progress import PlainReporter, reporting
from condapress._progress import NULL_REPORTER, Reporter
from condapress.assemble import build_wheel
from condapress.errors import SolveError
from condapress.model import PressOptions, SolveRequest, WheelPlan
from support.conda_archives import Package, index
from support.factories import closure, record, wheel_spec
from support.fake_solver import FakeSolver
from support.recording import RecordingReporter
from support.staged import pygreet

if TYPE_CHECKING:
    from pathlib import Path


def test_the_solve_is_reported_before_and_after() -> None:
    reporter = RecordingReporter()
    channel = [record("tally", "0.3.0", "hd590300_0", "libgreet"), record("libgreet", "1.0.0", "0")]
    request = SolveRequest(("tally",), ("fixture",), python="3.12", subdir="linux-aarch64")
    solve.resolve(request, solver=FakeSolver(channel), reporter=reporter)
    assert reporter.calls == [("solving", ("tally",), "3.12", "linux-aarch64"), ("solved", 2)]


def test_a_failed_solve_is_reported_begun_and_never_done() -> None:
    reporter = RecordingReporter()
    request = SolveRequest(("tally",), ("fixture",))
    solver = FakeSolver(error=SolveError("no"))
    with pytest.raises(SolveError):
        solve.resolve(request, solver=solver, reporter=reporter)
    assert reporter.calls == [("solving", ("tally",), "3.11", "linux-64")]


def test_a_wheel_reports_every_byte_it_compresses(tmp_path: Path) -> None:
    reporter = RecordingReporter()
    contents = pygreet(tmp_path)
    built = build_wheel(contents, tmp_path / "out", jobs=2, reporter=reporter)
    name = built.path.name
    [(wheel, total)] = reporter.named("compressing")
    compressed = reporter.named("compressed")
    assert wheel == name
    assert {call[0] for call in compressed} == {name}
    assert sum(int(str(call[1])) for call in compressed) == total
    with zipfile.ZipFile(built.path) as zf:  # every member but RECORD, at its size
        sizes = [i.file_size for i in zf.infolist() if not i.filename.endswith("/RECORD")]
    assert [call[1] for call in compressed] == sizes
    assert total == sum(sizes)
    assert reporter.calls[-1] == ("assembled", name, built.size)


def test_the_silent_reporter_changes_nothing(tmp_path: Path) -> None:
    contents = pygreet(tmp_path)
    silent = build_wheel(contents, tmp_path / "a")
    heard = build_wheel(contents, tmp_path / "b", reporter=RecordingReporter())
    assert silent.path.read_bytes() == heard.path.read_bytes()
    assert PressOptions().reporter is NULL_REPORTER
    assert PressOptions(reporter=RecordingReporter()) == PressOptions()  # not compared


def test_a_reporter_overrides_what_it_cares_about() -> None:
    class Solves(Reporter):
        def __init__(self) -> None:
            self.seen: list[int] = []

        def solved(self, packages: int) -> None:
            self.seen.append(packages)

    reporter = Solves()
    reporter.downloading("x.conda", 10)  # the protocol's own: does nothing
    solve.resolve(
        SolveRequest(("tally",), ("fixture",)),
        solver=FakeSolver([record("tally", "0.3.0", "0")]),
        reporter=reporter,
    )
    assert reporter.seen == [1]


def test_each_archive_unpacked_is_reported_with_its_bytes(tmp_path: Path) -> None:
    (tmp_path / "ch").mkdir()
    archives = [
        Package(index=index(name=name, version="1")).conda(tmp_path / "ch", f"{name}-1-0.conda")
        for name in ("one", "two")
    ]
    records = tuple(unpack.local_records(str(a) for a in archives).values())
    the_plan = WheelPlan(
        closure(records, "one", "two"),
        fat=True,
        runtime="system",
        decisions=(),
        wheels=(wheel_spec("one", "one", "two"),),
    )
    reporter = RecordingReporter()
    unpack.unpack(the_plan, tmp_path / "cache", tmp_path / "pkgs", timeout=9, reporter=reporter)
    sizes = [a.stat().st_size for a in archives]
    assert reporter.calls == [
        ("unpacking", 2, sum(sizes)),
        ("unpacked", "one-1-0.conda", sizes[0]),
        ("unpacked", "two-1-0.conda", sizes[1]),
    ]


def plain(*calls: tuple[str, tuple[object, ...]]) -> list[str]:
    stream = io.StringIO()
    reporter = PlainReporter(stream)
    for method, args in calls:
        getattr(reporter, method)(*args)
    return stream.getvalue().splitlines()


def test_plain_lines() -> None:
    assert plain(
        ("solving", (("pygreet", "tally >=0.3"), "3.11", "linux-64")),
        ("solved", (11,)),
        ("unpacking", (2, 17_000)),
        ("unpacked", ("libgreet-1.0.0-hd590300_0.tar.bz2", 8806)),
        ("unpacked", ("tally-0.3.0-hd590300_0.conda", 8194)),
        ("patching", ("pygreet", 2)),
        ("patched", ("pygreet", "pygreet.libs/libgreet-562049fa.so.1")),
        ("patching", ("salutation", 0)),
        ("patched", ("pygreet", "pygreet/_greet.cpython-311-x86_64-linux-gnu.so")),
        ("compressing", ("pygreet-1.0.0-py3-none-any.whl", 96_460)),
        ("compressed", ("pygreet-1.0.0-py3-none-any.whl", 96_460)),
        ("assembled", ("pygreet-1.0.0-py3-none-any.whl", 21_709)),
    ) == [
        "solve: pygreet tally >=0.3 for python 3.11 on linux-64",
        "solve: 11 packages in the closure",
        "unpack: 2 archives, 16.6 KiB",
        "unpack: libgreet-1.0.0-hd590300_0.tar.bz2, 8.6 KiB (1 of 2)",
        "unpack: tally-0.3.0-hd590300_0.conda, 8.0 KiB (2 of 2)",
        "patch: pygreet, 2 binaries",
        "compress: pygreet-1.0.0-py3-none-any.whl, 94.2 KiB of files into 21.2 KiB",
    ]


def test_a_download_line_says_how_much_came_and_how_fast() -> None:
    [line] = plain(
        ("downloading", ("x.conda", 3 << 20)),
        ("received", ("x.conda", 1 << 20)),
        ("downloading", ("x.conda", 3 << 20)),  # tried again: counted from 0
        ("received", ("x.conda", 2 << 20)),
        ("received", ("x.conda", 1 << 20)),
        ("downloaded", ("x.conda",)),
    )
    head, _, rate = line.partition(" in ")
    assert head == "download: x.conda, 3.0 MiB"
    assert rate.endswith("/s)")


def test_names_are_escaped_in_plain_lines() -> None:
    assert plain(("unpacking", (1, 1)), ("unpacked", ("evil\x1b[2J.conda", 1))) == [
        "unpack: 1 archives, 1 B",
        "unpack: evil\\x1b[2J.conda, 1 B (1 of 1)",
    ]


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"FORCE_COLOR": "1"},
        {"FORCE_COLOR": ""},
        {"TTY_COMPATIBLE": "1"},
        {"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"},
        {"TERM": "dumb", "FORCE_COLOR": "1"},
    ],
    ids=["pipe", "force-color", "force-color-empty", "tty-compatible", "tty-incompatible", "dumb"],
)
def test_a_pipe_gets_live_bars_exactly_when_rich_calls_it_a_terminal(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TERM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    rich_says = Console(file=stream)  # the oracle
    terminal = rich_says.is_terminal and not rich_says.is_dumb_terminal
    expected = RichReporter if terminal else PlainReporter
    with reporting(argparse.Namespace(quiet=0)) as reporter:
        assert type(reporter) is expected
