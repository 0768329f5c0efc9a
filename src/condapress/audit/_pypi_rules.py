"""PyPI's rules for what it takes, as data: platform tags, sizes, metadata limits; and the codes.

The numbers and tag lists are warehouse's (PyPI's server), kept in
``data/pypi_upload_rules.json`` with the file each one comes from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from condapress.model import Level

__all__ = ["PYPI_CODES", "PypiRules", "pypi_rules", "size_text"]

_E, _W = Level.ERROR, Level.WARNING
_TWINE_STRICT = "twine check --strict fails on it"
#: Every finding code of ``condapress check``, with its level and hint.
PYPI_CODES: dict[str, tuple[Level, str]] = {
    "pypi-filename": (
        _E,
        (
            "name it <name>-<version>-<tags>.whl, the name normalized: lower case, each run of "
            "'-', '_' and '.' written as one '_'"
        ),
    ),
    "pypi-platform-tag": (
        _E,
        (
            "tag it for a platform PyPI knows (manylinux_X_Y, musllinux_X_Y, macosx, win); a "
            "linux_<arch> wheel belongs on a private index"
        ),
    ),
    "pypi-file-too-large": (
        _E,
        (
            "make the wheel smaller (press native libraries as wheels of their own instead of "
            "--fat), or ask PyPI to raise the project's file size limit and pass --max-file-size"
        ),
    ),
    "pypi-compression": (_E, "rebuild the wheel with its members stored or deflated"),
    "pypi-dist-info": (_E, "name the .dist-info folder after the file name's name and version"),
    "pypi-metadata": (_E, "fix METADATA and rebuild the wheel: PyPI refuses the upload"),
    "pypi-description": (
        _E,
        (
            "fix the markup of the long description, or declare its type with "
            "Description-Content-Type (text/markdown, text/plain)"
        ),
    ),
    "pypi-license-file": (_E, "put every License-File under .dist-info/licenses/"),
    "pypi-entry-points": (
        _E,
        (
            "write entry_points.txt as an INI file of 'name = module:object' lines, names made "
            "of letters, digits, '_', '.' and '-'"
        ),
    ),
    "description-missing": (_W, f"add a long description (README) to METADATA; {_TWINE_STRICT}"),
    "description-type-missing": (
        _W,
        (
            f"declare Description-Content-Type (PyPI renders the description as "
            f"reStructuredText without one); {_TWINE_STRICT}"
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class _TagPattern:
    regex: re.Pattern[str]
    #: the architectures the pattern's ``arch`` group may take; None: any.
    arches: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class PypiRules:
    """What PyPI refuses, read from ``data/pypi_upload_rules.json``."""

    #: PyPI's default limit for one file of a project, in bytes.
    max_file_size: int
    #: a wheel that unpacks to more than ``min_unpacked`` bytes and ``max_ratio`` times its size
    #: is refused as a decompression bomb.
    min_unpacked: int
    max_ratio: int
    metadata_versions: frozenset[str]
    max_summary_length: int
    max_label_length: int
    platforms: frozenset[str]
    patterns: tuple[_TagPattern, ...]

    def platform_ok(self, platform: str) -> bool:
        """Whether PyPI takes a wheel with the platform tag *platform*.

        >>> rules = pypi_rules()
        >>> [rules.platform_ok(p) for p in ("manylinux_2_17_x86_64", "linux_x86_64", "any")]
        [True, False, True]
        """
        if platform in self.platforms:
            return True
        for pattern in self.patterns:
            match = pattern.regex.fullmatch(platform)
            if match and (pattern.arches is None or match["arch"] in pattern.arches):
                return True
        return False


@cache
def pypi_rules() -> PypiRules:
    """PyPI's rules, loaded once."""
    path = resources.files("condapress") / "data" / "pypi_upload_rules.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    ratio = data["compression_ratio"]
    return PypiRules(
        max_file_size=data["max_file_size_mib"] << 20,
        min_unpacked=ratio["min_unpacked_mib"] << 20,
        max_ratio=ratio["max_ratio"],
        metadata_versions=frozenset(data["metadata_versions"]),
        max_summary_length=data["max_summary_length"],
        max_label_length=data["max_project_url_label_length"],
        platforms=frozenset(data["platforms"]),
        patterns=tuple(
            _TagPattern(
                re.compile(p["regex"]), None if p["arches"] is None else frozenset(p["arches"])
            )
            for p in data["patterns"]
        ),
    )


def size_text(size: int) -> str:
    """*size* bytes for people.

    >>> size_text(100 << 20), size_text(150_000_000), size_text(21_700)
    ('100 MiB', '143.1 MiB', '21 KiB')
    """
    if size % (1 << 20) == 0:
        return f"{size >> 20} MiB"
    return f"{size / (1 << 20):.1f} MiB" if size >= 1 << 20 else f"{size / 1024:.0f} KiB"
