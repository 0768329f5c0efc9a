"""The files condapress adds to a wheel's ``.dist-info``: written by assemble, read by the audit."""

from __future__ import annotations

__all__ = ["DATA_PATHS_FILE", "PROVENANCE_FILE", "SBOM_FILE"]

#: Lists the conda packages a wheel was pressed from (docs/wheels.md, "Provenance").
PROVENANCE_FILE = "conda-packages.json"
#: Records the placeholder sites and the variables set for them (docs/wheels.md, "Data paths").
DATA_PATHS_FILE = "conda-data-paths.json"
#: The CycloneDX SBOM of the conda packages inside (PEP 770; docs/wheels.md, "Provenance").
SBOM_FILE = "sboms/conda-packages.cdx.json"
