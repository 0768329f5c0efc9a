"""condapress: press conda packages into wheels that pip installs and PyPI accepts."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from condapress.errors import CondapressError

try:
    __version__ = version("condapress")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = ["CondapressError", "__version__"]


def __dir__() -> list[str]:
    return __all__
