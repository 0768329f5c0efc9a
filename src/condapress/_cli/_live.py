"""The live display of progress on a terminal: rich's bars under the plain lines."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import TYPE_CHECKING

from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.text import Text

from condapress._cli._progress import PlainReporter, human_size
from condapress.errors import printable

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from rich.console import Console
    from rich.progress import TaskID

__all__ = ["live"]


class RichReporter(PlainReporter):
    """The plain lines, printed above a live bar for each step under way."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(sys.stderr)
        self._progress = progress
        self._tasks: dict[tuple[str, str], TaskID] = {}

    def line(self, text: str) -> None:
        self._progress.console.print(printable(text), markup=False, highlight=False, soft_wrap=True)

    def _task(self, key: tuple[str, str], total: float | None, unit: str) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            self._progress.remove_task(task)
        description = printable(f"{key[0]} {key[1]}".strip())
        self._tasks[key] = self._progress.add_task(description, total=total, unit=unit)

    def _advance(self, key: tuple[str, str], amount: float) -> None:
        task = self._tasks.get(key)
        if task is not None:
            self._progress.advance(task, amount)

    def _done(self, key: tuple[str, str]) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            self._progress.remove_task(task)
            self._progress.refresh()

    def solving(self, specs: Sequence[str], python: str, subdir: str) -> None:
        super().solving(specs, python, subdir)
        self._task(("solve", ""), None, "")

    def solved(self, packages: int) -> None:
        self._done(("solve", ""))
        super().solved(packages)

    def downloading(self, name: str, size: int | None) -> None:
        super().downloading(name, size)
        self._task(("download", name), size, "bytes")

    def received(self, name: str, size: int) -> None:
        super().received(name, size)
        self._advance(("download", name), size)

    def downloaded(self, name: str) -> None:
        self._done(("download", name))
        super().downloaded(name)

    def unpacking(self, archives: int, size: int) -> None:
        super().unpacking(archives, size)
        self._task(("unpack", ""), archives, "archives")

    def unpacked(self, name: str, size: int) -> None:
        self._advance(("unpack", ""), 1)
        super().unpacked(name, size)
        if self._unpacked == self._archives:
            self._done(("unpack", ""))

    def patching(self, wheel: str, binaries: int) -> None:
        super().patching(wheel, binaries)
        if binaries:
            self._task(("patch", wheel), binaries, "binaries")

    def patched(self, wheel: str, path: str) -> None:
        self._advance(("patch", wheel), 1)
        super().patched(wheel, path)
        if self._patches[wheel][0] == self._patches[wheel][1]:
            self._done(("patch", wheel))

    def compressing(self, wheel: str, size: int) -> None:
        super().compressing(wheel, size)
        self._task(("compress", _stem(wheel)), size, "bytes")

    def compressed(self, wheel: str, size: int) -> None:
        self._advance(("compress", _stem(wheel)), size)

    def assembled(self, wheel: str, size: int) -> None:
        self._done(("compress", _stem(wheel)))
        super().assembled(wheel, size)


def _stem(wheel: str) -> str:
    """``name-version`` of a wheel's file name: the bar's label, short enough for the bar."""
    return "-".join(wheel.split("-")[:2])


class _Amount(ProgressColumn):
    """``12.3 KiB/40.0 KiB 1.2 MiB/s`` for bytes, ``2/3 archives`` for counts."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "")
        if task.total is None:
            return Text("")
        if unit != "bytes":
            return Text(f"{task.completed:.0f}/{task.total:.0f} {unit}")
        speed = f" {human_size(task.speed)}/s" if task.speed else ""
        return Text(f"{human_size(task.completed)}/{human_size(task.total)}{speed}")


class _ConsoleWriter:
    """A stream for the log handler that prints through the console of the live display."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def write(self, text: str) -> int:
        self._console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        """Nothing waits: the console prints at once."""


@contextlib.contextmanager
def live(console: Console) -> Iterator[RichReporter]:
    """A reporter that shows bars on *console* until the block ends; then they are gone."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        _Amount(),
        console=console,
        transient=True,
    )
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.stream for h in handlers]
    with progress:
        # Log lines go through the live display, so that they print above the bars instead of
        # through them, and unwrapped, as they would without it.
        for handler in handlers:
            handler.setStream(_ConsoleWriter(console))
        try:
            yield RichReporter(progress)
        finally:
            for handler, stream in zip(handlers, streams, strict=True):
                handler.setStream(stream)
