"""A progress reporter that keeps every call, for tests of what the stages report."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from condapress._progress import Reporter

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass
class RecordingReporter(Reporter):
    """Keeps ``(method, *arguments)`` of every call, in the order they came (thread-safe)."""

    calls: list[tuple[object, ...]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _keep(self, *call: object) -> None:
        with self.lock:
            self.calls.append(call)

    def named(self, method: str) -> list[tuple[object, ...]]:
        """The arguments of every call of *method*, in order."""
        return [call[1:] for call in self.calls if call[0] == method]

    def solving(self, specs: Sequence[str], python: str, subdir: str) -> None:
        self._keep("solving", tuple(specs), python, subdir)

    def solved(self, packages: int) -> None:
        self._keep("solved", packages)

    def downloading(self, name: str, size: int | None) -> None:
        self._keep("downloading", name, size)

    def received(self, name: str, size: int) -> None:
        self._keep("received", name, size)

    def downloaded(self, name: str) -> None:
        self._keep("downloaded", name)

    def unpacking(self, archives: int, size: int) -> None:
        self._keep("unpacking", archives, size)

    def unpacked(self, name: str, size: int) -> None:
        self._keep("unpacked", name, size)

    def patching(self, wheel: str, binaries: int) -> None:
        self._keep("patching", wheel, binaries)

    def patched(self, wheel: str, path: str) -> None:
        self._keep("patched", wheel, path)

    def compressing(self, wheel: str, size: int) -> None:
        self._keep("compressing", wheel, size)

    def compressed(self, wheel: str, size: int) -> None:
        self._keep("compressed", wheel, size)

    def assembled(self, wheel: str, size: int) -> None:
        self._keep("assembled", wheel, size)
