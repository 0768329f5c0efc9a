"""How a press reports its progress: the :class:`Reporter` protocol, a no-op by default.

The stages say what they are doing (the solve, each download's bytes, each archive unpacked,
each binary patched, each wheel's bytes compressed) and nothing else: how, or whether, it is
shown is the caller's business. ``condapress`` renders it with rich on a terminal and as plain
lines elsewhere; a library caller gets nothing unless it passes a reporter of its own, a
subclass of :class:`Reporter` that overrides the methods it cares about. Every method may be
called from a worker thread (patching and compression use several).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["NULL_REPORTER", "Reporter"]


class Reporter(Protocol):
    """What the stages report; each method does nothing unless a subclass overrides it."""

    def solving(self, specs: Sequence[str], python: str, subdir: str) -> None:
        """The solve of *specs* for CPython *python* on conda *subdir* begins."""
        del specs, python, subdir

    def solved(self, packages: int) -> None:
        """The solve found a closure of *packages* conda packages."""
        del packages

    def downloading(self, name: str, size: int | None) -> None:
        """The download of archive *name* (*size* bytes, None: unknown) begins, or begins again."""
        del name, size

    def received(self, name: str, size: int) -> None:
        """*size* more bytes of archive *name* arrived."""
        del name, size

    def downloaded(self, name: str) -> None:
        """The download of archive *name* is complete and verified."""
        del name

    def unpacking(self, archives: int, size: int) -> None:
        """*archives* archives of *size* bytes in all are about to be extracted."""
        del archives, size

    def unpacked(self, name: str, size: int) -> None:
        """Archive *name*, of *size* bytes, is extracted and verified."""
        del name, size

    def patching(self, wheel: str, binaries: int) -> None:
        """*binaries* binaries of wheel *wheel* (its distribution name) are about to be edited."""
        del wheel, binaries

    def patched(self, wheel: str, path: str) -> None:
        """The binary *path* (in the wheel) of *wheel* is edited."""
        del wheel, path

    def compressing(self, wheel: str, size: int) -> None:
        """Wheel file *wheel* is about to be written from *size* bytes of files."""
        del wheel, size

    def compressed(self, wheel: str, size: int) -> None:
        """*size* more bytes of wheel file *wheel*'s files are written."""
        del wheel, size

    def assembled(self, wheel: str, size: int) -> None:
        """Wheel file *wheel* is complete: *size* bytes."""
        del wheel, size


class _Silent(Reporter):
    """The reporter of a caller that asked for none."""


#: Reports nothing: the default of every stage and of :class:`~condapress.model.PressOptions`.
NULL_REPORTER: Reporter = _Silent()
