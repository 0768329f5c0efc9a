"""The files condapress adds to a wheel's ``.dist-info``: written by assemble, read by the audit."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["DATA_PATHS_FILE", "PROVENANCE_FILE", "SBOM_FILE", "excluded_by"]

#: Lists the conda packages a wheel was pressed from (docs/wheels.md, "Provenance").
PROVENANCE_FILE = "conda-packages.json"
#: Records the placeholder sites and the variables set for them (docs/wheels.md, "Data paths").
DATA_PATHS_FILE = "conda-data-paths.json"
#: The CycloneDX SBOM of the conda packages inside (PEP 770; docs/wheels.md, "Provenance").
SBOM_FILE = "sboms/conda-packages.cdx.json"


def excluded_by(name: str, patterns: Iterable[str]) -> str | None:
    """The first ``--exclude`` pattern that library *name* matches, whole and case-sensitively.

    The press leaves such libraries out and records the names its binaries need of them in
    ``conda-packages.json`` (``"excluded"``), where the audit reads them.

    >>> excluded_by("libcuda.so.1", ["libnvidia*", "libcuda.so*"]), excluded_by("libz.so.1", [])
    ('libcuda.so*', None)
    """
    return next((pattern for pattern in patterns if fnmatchcase(name, pattern)), None)
