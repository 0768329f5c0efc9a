"""The one architecture of a wheel's binaries, whatever their format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from condapress.errors import MixedArchitecturesError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from condapress.model import BinaryFacts

__all__ = ["one_architecture"]


def one_architecture(binaries: Mapping[str, BinaryFacts], arch: str | None = None) -> str:
    """The architecture every one of *binaries* (at least one) is built for: *arch* if given.

    :raises MixedArchitecturesError: ``<path> is built for <machine>, but the wheel is for
        <arch>``, naming the first such path in sorted order.
    """
    paths = sorted(binaries)
    arch = arch or binaries[paths[0]].machine
    for path in paths:
        if binaries[path].machine != arch:
            raise MixedArchitecturesError(
                f"{path} is built for {binaries[path].machine}, but the wheel is for {arch}",
                hint="a wheel holds binaries for one architecture: remove the odd file",
                path=path,
            )
    return arch
