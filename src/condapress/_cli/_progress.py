"""Progress on standard error: live bars on a terminal (rich), plain lines elsewhere, none with -q.

The plain lines are what a CI log keeps: one line per step done, each starting with the step's
name (``solve:``, ``download:``, ``unpack:``, ``patch:``, ``compress:``). On a terminal the same
lines are printed above live bars for the step under way: the download's bytes and rate, the
archives extracted, the binaries patched, the bytes compressed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import IO, TYPE_CHECKING

from condapress._progress import NULL_REPORTER, Reporter
from condapress.errors import printable

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator, Sequence

__all__ = ["PlainReporter", "human_size", "reporting"]

_KIB = 1024


def human_size(size: float) -> str:
    """*size* bytes in the largest binary unit that keeps it at 1 or more.

    >>> human_size(812), human_size(12_595), human_size(168_000_000)
    ('812 B', '12.3 KiB', '160.2 MiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < _KIB or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= _KIB
    raise AssertionError  # pragma: no cover - the loop returns at GiB


class PlainReporter(Reporter):
    """One line per step done, written to *stream*: what a CI log or a pipe gets."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._downloads: dict[str, tuple[float, int]] = {}  # name -> (start, bytes so far)
        self._archives = self._unpacked = 0
        self._patches: dict[str, tuple[int, int]] = {}  # wheel -> (done, total)
        self._compressing: dict[str, int] = {}

    def line(self, text: str) -> None:
        """Write one line of progress."""
        print(printable(text), file=self._stream, flush=True)

    def solving(self, specs: Sequence[str], python: str, subdir: str) -> None:
        self.line(f"solve: {' '.join(specs)} for python {python} on {subdir}")

    def solved(self, packages: int) -> None:
        self.line(f"solve: {packages} packages in the closure")

    def downloading(self, name: str, size: int | None) -> None:
        del size  # the line says how many bytes came
        with self._lock:
            self._downloads[name] = (time.monotonic(), 0)

    def received(self, name: str, size: int) -> None:
        with self._lock:
            start, done = self._downloads.get(name, (time.monotonic(), 0))
            self._downloads[name] = (start, done + size)

    def downloaded(self, name: str) -> None:
        with self._lock:
            start, done = self._downloads.pop(name, (time.monotonic(), 0))
        seconds = max(time.monotonic() - start, 1e-3)
        rate = human_size(done / seconds)
        self.line(f"download: {name}, {human_size(done)} in {seconds:.1f} s ({rate}/s)")

    def unpacking(self, archives: int, size: int) -> None:
        with self._lock:
            self._archives, self._unpacked = archives, 0
        self.line(f"unpack: {archives} archives, {human_size(size)}")

    def unpacked(self, name: str, size: int) -> None:
        with self._lock:
            self._unpacked += 1
            count = f"{self._unpacked} of {self._archives}"
        self.line(f"unpack: {name}, {human_size(size)} ({count})")

    def patching(self, wheel: str, binaries: int) -> None:
        with self._lock:
            self._patches[wheel] = (0, binaries)

    def patched(self, wheel: str, path: str) -> None:
        del path  # the binaries finish in any order: one line per wheel says it
        with self._lock:
            done, total = self._patches.get(wheel, (0, 0))
            self._patches[wheel] = (done + 1, total)
        if done + 1 == total:
            self.line(f"patch: {wheel}, {total} {'binary' if total == 1 else 'binaries'}")

    def compressing(self, wheel: str, size: int) -> None:
        with self._lock:
            self._compressing[wheel] = size

    def assembled(self, wheel: str, size: int) -> None:
        with self._lock:
            files = self._compressing.pop(wheel, 0)
        self.line(f"compress: {wheel}, {human_size(files)} of files into {human_size(size)}")


@contextlib.contextmanager
def reporting(args: argparse.Namespace) -> Iterator[Reporter]:
    """The reporter of a command: none with ``-q``, rich on a terminal, else plain lines."""
    if args.quiet + getattr(args, "quiet_after", 0):
        yield NULL_REPORTER
        return
    if not _may_be_terminal(sys.stderr):
        yield PlainReporter(sys.stderr)
        return
    from rich.console import Console  # noqa: PLC0415 - only when there is something to show

    console = Console(file=sys.stderr)
    if not console.is_terminal or console.is_dumb_terminal:
        yield PlainReporter(sys.stderr)
        return
    from condapress._cli._live import live  # noqa: PLC0415

    with live(console) as reporter:
        yield reporter


def _may_be_terminal(stream: IO[str]) -> bool:
    """False when rich would surely not call *stream* a terminal, without importing rich (23 ms).

    rich's ``Console.is_terminal`` says yes only for ``TTY_COMPATIBLE=1``, a non-empty
    ``FORCE_COLOR`` or a stream whose ``isatty()`` does; anything else is plain lines.
    """
    if os.environ.get("TTY_COMPATIBLE") == "1" or os.environ.get("FORCE_COLOR") is not None:
        return True
    try:
        return stream.isatty()
    except ValueError:  # a closed stream
        return False
