"""Progress as a press shows it: plain lines where standard error is no terminal, live bars on
one, nothing with -q; and every byte and binary a real press reports."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from typing import TYPE_CHECKING

from condapress import press
from condapress.model import PlanOptions, PressOptions, SolveRequest
from support.presses import press as run_press
from support.recording import RecordingReporter

if TYPE_CHECKING:
    from pathlib import Path

    from support.channel_server import ChannelServer

PYGREET = "pygreet-1.0.0-py311h26e73d1_0.conda"
SALUTATION = "salutation-python-1.2.0-pyhd8ed1ab_0.tar.bz2"
LIBGREET = "libgreet-1.0.0-hd590300_0.tar.bz2"
LIBGREETPP = "libgreetpp-1.0.0-h6712182_0.conda"
WHEEL = "pygreet-1.0.0-cp311-cp311-manylinux_2_34_x86_64.whl"
ARGV = ("pygreet", "salutation-python", "--python", "3.11", "--subdir", "linux-64", "--fat")


def download_line(name: str, size: str) -> re.Pattern[str]:
    return re.compile(rf"download: {re.escape(name)}, {size} in \d+\.\d s \([\d.]+ [KMG]?i?B/s\)")


def test_plain_lines_of_a_press_from_a_channel_server(
    server: ChannelServer, tmp_path: Path
) -> None:
    run = run_press(server.url, tmp_path / "out", tmp_path / "cache", *ARGV, "-j", "1")
    assert run.status == 0, run.stderr
    assert len(run.stdout.splitlines()) == 2
    lines = [line for line in run.stderr if not line.startswith("WARNING: ")]
    # the plan reads the roots' archives (downloaded), the press the natives it merges
    expected: list[str | re.Pattern[str]] = [
        "solve: pygreet salutation-python for python 3.11 on linux-64",
        "solve: 11 packages in the closure",
        download_line(PYGREET, "7.0 KiB"),
        download_line(SALUTATION, "3.7 KiB"),
        "unpack: 4 archives, 26.9 KiB",
        # every download, then the extractions (on --jobs threads), reported in order
        download_line(LIBGREET, "8.6 KiB"),
        download_line(LIBGREETPP, "7.6 KiB"),
        f"unpack: {LIBGREET}, 8.6 KiB (1 of 4)",
        f"unpack: {LIBGREETPP}, 7.6 KiB (2 of 4)",
        f"unpack: {PYGREET}, 7.0 KiB (3 of 4)",
        f"unpack: {SALUTATION}, 3.7 KiB (4 of 4)",
        "patch: pygreet, 4 binaries",
        f"compress: {WHEEL}, 98.2 KiB of files into 22.2 KiB",
        "compress: salutation-1.2.0-py3-none-any.whl, 4.8 KiB of files into 4.2 KiB",
    ]
    assert len(lines) == len(expected), lines
    for line, want in zip(lines, expected, strict=True):
        assert want.fullmatch(line) if isinstance(want, re.Pattern) else line == want, line
    again = run_press(server.url, tmp_path / "out", tmp_path / "cache", *ARGV, "-j", "1")
    assert not any(line.startswith("download: ") for line in again.stderr)  # all cached now


def test_quiet_prints_nothing_but_the_wheels(channel: Path, tmp_path: Path) -> None:
    run = run_press(channel, tmp_path / "out", tmp_path / "cache", *ARGV, "-q")
    assert (run.status, run.stderr) == (0, [])
    assert [line.split("  ")[0] for line in run.stdout.splitlines()] == [
        str(tmp_path / "out" / WHEEL),
        str(tmp_path / "out" / "salutation-1.2.0-py3-none-any.whl"),
    ]
    refused = run_press(channel, tmp_path / "out", tmp_path / "cache", "nosuchthing", "-q")
    assert (refused.status, refused.stderr) == (
        1,
        [
            f"error: package 'nosuchthing' is not on {channel} for linux-64 or noarch",
            "hint: check the spelling, or add the channel that has it with -c",
        ],
    )


def test_every_byte_and_binary_of_a_press_is_reported(
    server: ChannelServer, tmp_path: Path
) -> None:
    reporter = RecordingReporter()
    result = press(
        SolveRequest(("pygreet",), (server.url,), cache_dir=tmp_path / "cache"),
        PressOptions(
            plan=PlanOptions(fat=True), output_dir=tmp_path / "out", jobs=2, reporter=reporter
        ),
    )
    [wheel] = result.wheels
    assert reporter.calls[:2] == [("solving", ("pygreet",), "3.11", "linux-64"), ("solved", 11)]
    downloads = [str(call[0]) for call in reporter.named("downloaded")]
    assert sorted(downloads) == sorted([PYGREET, SALUTATION, LIBGREET, LIBGREETPP])
    for name in downloads:  # every byte of each archive, as it arrived
        size = (server.root / ("noarch" if name == SALUTATION else "linux-64") / name).stat()
        assert sum(int(str(c[1])) for c in reporter.named("received") if c[0] == name) == (
            size.st_size
        )
    assert reporter.named("patching") == [("pygreet", 4)]
    patched = {str(call[1]) for call in reporter.named("patched")}
    assert len(patched) == 4
    # the two libraries, the extension module and libgreet's greet executable
    assert sum(path.startswith("pygreet.libs/lib") for path in patched) == 2
    assert sum(path.startswith("pygreet.libs/bin/") for path in patched) == 1
    assert sum(path.startswith("pygreet/_") for path in patched) == 1
    [(wheel_name, total)] = reporter.named("compressing")
    assert sum(int(str(c[1])) for c in reporter.named("compressed")) == total
    assert reporter.named("assembled") == [(wheel_name, wheel.size)]
    assert wheel_name == wheel.path.name


def test_a_terminal_gets_live_bars_and_the_same_lines(channel: Path, tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "TMPDIR": str(tmp_path)}
    env.pop("NO_COLOR", None)
    argv = [*ARGV, "-c", str(channel), "-o", str(tmp_path / "out")]
    with subprocess.Popen(
        [sys.executable, "-m", "condapress", *argv, "--cache-dir", str(tmp_path / "cache")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=env,
    ) as process:
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process has gone
                break
            if not chunk:
                break
            shown += chunk
        stdout = process.stdout.read() if process.stdout else b""
    os.close(controller)
    assert process.returncode == 0, shown
    assert stdout.decode().count(".whl") == 2
    text = shown.decode()
    assert "\x1b[?25l" in text  # the live display hides the cursor while it runs
    for line in (
        "solve: pygreet salutation-python for python 3.11 on linux-64",
        "patch: pygreet, 4 binaries",
        # the channel's folder name is in conda-packages.json: "channel" here
        f"compress: {WHEEL}, 97.3 KiB of files into 22.1 KiB",
    ):
        assert line in text, text
