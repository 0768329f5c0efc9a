"""pygreet: Python bindings to libgreetpp (and, through it, libgreet)."""

from ._pygreet import datadir, greet, libgreet_version

__version__ = "1.0.0"
__all__ = ["datadir", "greet", "libgreet_version", "salute"]


def salute(name: str) -> str:
    """Return libgreet's greeting for ``name`` followed by salutation's salute."""
    # Imported on use: the extension module works without the salutation distribution.
    import salutation  # noqa: PLC0415

    return greet(name) + " " + salutation.salute(name)
