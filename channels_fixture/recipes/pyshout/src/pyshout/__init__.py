"""pyshout: Python bindings to libgreet 2."""

from ._pyshout import datadir, greet, libgreet_version, shout

__version__ = "2.0.0"
__all__ = ["datadir", "greet", "libgreet_version", "shout"]
