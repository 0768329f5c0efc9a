"""The wheel's software bill of materials: a CycloneDX 1.6 document of the conda packages inside.

PEP 770 puts SBOMs in ``.dist-info/sboms/``; condapress writes one there, beside
``conda-packages.json``, listing every conda package pressed into the wheel: name, version,
package URL (the purl spec's ``conda`` type, which has no namespace: the channel is a
qualifier), the sha256 of its archive, and its license (an SPDX expression when the recipe's
license is one, else its text as a name). The document is reproducible: no time stamp, and the
serial number is derived from the content.
"""

from __future__ import annotations

import json
import posixpath
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import condapress
from condapress.assemble._metadata import spdx_or_none

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from condapress.model import CondaRecord, Provenance

__all__ = ["conda_purl", "pypi_purl", "sbom_text"]

#: The namespace of the serial numbers: a name-based UUID of the document's content.
_SERIALS = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/condapress/condapress/sbom")
_ARCHIVE_TYPES = (("conda", ".conda"), ("tar.bz2", ".tar.bz2"))


def _encode(text: str, safe: str = ":") -> str:
    """Percent-encode *text* for a purl, as the purl spec's canonical form does.

    ``:`` is never encoded, nor is ``/`` in a qualifier's value (a URL's slashes).
    """
    return quote(text, safe=safe)


def conda_purl(package: Provenance, record: CondaRecord | None = None) -> str:
    """The package URL of a conda package, in the purl spec's canonical form.

    Qualifiers (sorted, as the spec's canonical form has them): the build string, the channel
    as the provenance names it (``conda-forge``, a URL, a local channel's folder name; none for a
    local archive), the subdir and the archive type.

    >>> from condapress.model import Provenance
    >>> conda_purl(Provenance("libzstd", "1.5.6", "ha6fb4c9_0", "conda-forge", "", "BSD-3-Clause",
    ...     "https://conda.anaconda.org/conda-forge/linux-64/libzstd-1.5.6-ha6fb4c9_0.conda"))
    'pkg:conda/libzstd@1.5.6?build=ha6fb4c9_0&channel=conda-forge&subdir=linux-64&type=conda'
    """
    file_name = (record.file_name if record is not None else "") or posixpath.basename(
        unquote(urlsplit(package.url).path)
    )
    subdir = record.subdir if record is not None else _subdir_of(package.url)
    qualifiers = {
        "build": package.build,
        "channel": package.channel,
        "subdir": subdir,
        "type": next((kind for kind, suffix in _ARCHIVE_TYPES if file_name.endswith(suffix)), ""),
    }
    query = "&".join(f"{key}={_encode(value, ':/')}" for key, value in qualifiers.items() if value)
    name, version = _encode(package.name.lower()), _encode(package.version)
    return f"pkg:conda/{name}@{version}" + (f"?{query}" if query else "")


def _subdir_of(url: str) -> str:
    """The subdir folder an archive's URL (or channel-relative path) names, if any."""
    parts = unquote(urlsplit(url).path).split("/")
    return parts[-2] if len(parts) > 1 else ""


def pypi_purl(name: str, version: str) -> str:
    """The package URL of a distribution on PyPI: its name lowercased, ``_`` as ``-``.

    >>> pypi_purl("Ruamel_Yaml", "0.18.6")
    'pkg:pypi/ruamel-yaml@0.18.6'
    """
    return f"pkg:pypi/{_encode(name.lower().replace('_', '-'))}@{_encode(version)}"


def sbom_text(
    name: str,
    version: str,
    packages: Sequence[Provenance],
    records: Mapping[str, CondaRecord] | None = None,
) -> str:
    """The CycloneDX 1.6 JSON document of wheel *name* *version* made of the conda *packages*.

    :param records: the closure's records by name: the subdir and archive type of each package
        (from its provenance's URL when absent).
    """
    records = records or {}
    ordered = sorted(packages, key=lambda p: (p.name, p.version, p.build, p.sha256))
    wheel_ref = pypi_purl(name, version)
    components = [_component(package, records.get(package.name)) for package in ordered]
    document: dict[str, Any] = {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "tools": {
                "components": [
                    {"type": "application", "name": "condapress", "version": condapress.__version__}
                ]
            },
            "component": {
                "type": "library",
                "bom-ref": wheel_ref,
                "name": name,
                "version": version,
                "purl": wheel_ref,
            },
        },
        "components": components,
        "dependencies": [
            {"ref": wheel_ref, "dependsOn": [c["bom-ref"] for c in components]},
            *_dependencies(ordered, components, records),
        ],
    }
    content = json.dumps(document, sort_keys=True, separators=(",", ":"))
    serial = {"serialNumber": f"urn:uuid:{uuid.uuid5(_SERIALS, content)}"}
    # bomFormat, specVersion and serialNumber first, where readers and people look for them
    ordered_document = {**dict(list(document.items())[:3]), **serial, **document}
    return json.dumps(ordered_document, indent=2, ensure_ascii=False) + "\n"


def _component(package: Provenance, record: CondaRecord | None) -> dict[str, Any]:
    purl = conda_purl(package, record)
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": purl,
        "name": package.name,
        "version": package.version,
        "purl": purl,
    }
    if package.sha256:
        component["hashes"] = [{"alg": "SHA-256", "content": package.sha256}]
    if package.license is not None and package.license.strip():
        expression = spdx_or_none(package.license)
        component["licenses"] = (
            [{"expression": expression}]
            if expression is not None
            else [{"license": {"name": " ".join(package.license.split())}}]
        )
    if urlsplit(package.url).scheme in ("http", "https"):
        component["externalReferences"] = [{"type": "distribution", "url": package.url}]
    return component


def _dependencies(
    packages: Sequence[Provenance],
    components: Sequence[Mapping[str, Any]],
    records: Mapping[str, CondaRecord],
) -> list[dict[str, Any]]:
    """Which packages of the wheel each one depends on, by their records' ``depends``."""
    import rattler  # noqa: PLC0415 - parsing match specs only; loaded by the solve already

    refs = {
        package.name: component["bom-ref"]
        for package, component in zip(packages, components, strict=True)
    }
    found = []
    for package in packages:
        record = records.get(package.name)
        names = {rattler.MatchSpec(dep).name.normalized for dep in record.depends} if record else ()
        found.append(
            {
                "ref": refs[package.name],
                "dependsOn": sorted(refs[n] for n in names if n in refs and n != package.name),
            }
        )
    return found
