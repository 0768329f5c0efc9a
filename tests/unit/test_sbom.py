"""The SBOM of a pressed wheel: CycloneDX 1.6, checked against the official schema and purl rules.

The schema is the one cyclonedx-python-lib ships, and the package URLs are compared with
packageurl-python's canonical form: both are oracles of the tests only.
"""

from __future__ import annotations

import json

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

import condapress
from condapress.assemble._sbom import conda_purl, pypi_purl, sbom_text
from condapress.model import NoArch, Provenance
from support.factories import record

CF = "https://conda.anaconda.org/conda-forge"
PACKAGES = (
    Provenance(
        "libzstd", "1.5.6", "ha6fb4c9_0", "conda-forge", "a" * 64, "BSD-3-Clause",
        f"{CF}/linux-64/libzstd-1.5.6-ha6fb4c9_0.conda",
    ),
    Provenance(
        "zstandard", "0.23.0", "py311hbc35293_1", "conda-forge", "b" * 64, "bsd-3-clause",
        f"{CF}/linux-64/zstandard-0.23.0-py311hbc35293_1.conda",
    ),
    Provenance(
        "tzdata", "2024a", "h0c530f3_0", "channels_fixture", "c" * 64, "LicenseRef-Public-Domain"
        " and Apache 2.0", "noarch/tzdata-2024a-h0c530f3_0.tar.bz2",
    ),
    Provenance("mine", "1.0", "h0_0", "", "", None, "mine-1.0-h0_0.conda"),
)  # fmt: skip
RECORDS = {
    "libzstd": record("libzstd", "1.5.6", "ha6fb4c9_0"),
    "zstandard": record("zstandard", "0.23.0", "py311hbc35293_1", "libzstd >=1.5.6,<1.6.0a0"),
    "tzdata": record("tzdata", "2024a", "h0c530f3_0", noarch=NoArch.GENERIC),
}


def document() -> dict[str, object]:
    text = sbom_text("zstandard", "0.23.0", PACKAGES, RECORDS)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    loaded: dict[str, object] = json.loads(text)
    return loaded


def test_it_is_valid_cyclonedx_1_6_and_names_the_wheel_and_its_maker() -> None:
    sbom = document()
    assert [sbom["bomFormat"], sbom["specVersion"], sbom["version"]] == ["CycloneDX", "1.6", 1]
    assert sbom["metadata"] == {
        "tools": {
            "components": [
                {"type": "application", "name": "condapress", "version": condapress.__version__}
            ]
        },
        "component": {
            "type": "library",
            "bom-ref": "pkg:pypi/zstandard@0.23.0",
            "name": "zstandard",
            "version": "0.23.0",
            "purl": "pkg:pypi/zstandard@0.23.0",
        },
    }


def test_one_component_per_conda_package_with_purl_hash_and_license() -> None:
    components = {c["name"]: c for c in document()["components"]}  # type: ignore[attr-defined]
    assert list(components) == ["libzstd", "mine", "tzdata", "zstandard"]  # sorted
    assert components["libzstd"] == {
        "type": "library",
        "bom-ref": components["libzstd"]["purl"],
        "name": "libzstd",
        "version": "1.5.6",
        "purl": "pkg:conda/libzstd@1.5.6?build=ha6fb4c9_0&channel=conda-forge&subdir=linux-64"
        "&type=conda",
        "hashes": [{"alg": "SHA-256", "content": "a" * 64}],
        "licenses": [{"expression": "BSD-3-Clause"}],
        "externalReferences": [
            {"type": "distribution", "url": f"{CF}/linux-64/libzstd-1.5.6-ha6fb4c9_0.conda"}
        ],
    }
    assert components["zstandard"]["licenses"] == [{"expression": "BSD-3-Clause"}]  # canonical
    # not an SPDX expression: its text, as a name; a local channel's path is no URL
    assert components["tzdata"]["licenses"] == [
        {"license": {"name": "LicenseRef-Public-Domain and Apache 2.0"}}
    ]
    assert "externalReferences" not in components["tzdata"]
    assert components["tzdata"]["purl"] == (
        "pkg:conda/tzdata@2024a?build=h0c530f3_0&channel=channels_fixture&subdir=noarch"
        "&type=tar.bz2"
    )
    # a local archive: no channel, no record (its subdir unknown), no hash, no license
    assert components["mine"] == {
        "type": "library",
        "bom-ref": "pkg:conda/mine@1.0?build=h0_0&type=conda",
        "name": "mine",
        "version": "1.0",
        "purl": "pkg:conda/mine@1.0?build=h0_0&type=conda",
    }


def test_dependencies_follow_the_records() -> None:
    refs = {c["name"]: c["bom-ref"] for c in document()["components"]}  # type: ignore[attr-defined]
    assert document()["dependencies"] == [
        {"ref": "pkg:pypi/zstandard@0.23.0", "dependsOn": sorted(refs.values())},
        {"ref": refs["libzstd"], "dependsOn": []},
        {"ref": refs["mine"], "dependsOn": []},
        {"ref": refs["tzdata"], "dependsOn": []},
        {"ref": refs["zstandard"], "dependsOn": [refs["libzstd"]]},
    ]


@pytest.mark.parametrize(
    "package",
    [
        *PACKAGES,
        Provenance(
            "odd", "1.0+local!x", "h 0", "https://example.org/my channel", "", None,
            "https://example.org/my%20channel/linux-64/odd-1.0-h0.conda",
        ),
    ],
    ids=lambda p: p.name,
)  # fmt: skip
def test_package_urls_are_the_purl_spec_s_canonical_form(package: Provenance) -> None:
    ours = conda_purl(package, RECORDS.get(package.name))
    parsed = PackageURL.from_string(ours)
    assert (parsed.type, parsed.namespace, parsed.name, parsed.version) == (
        "conda",
        None,  # the conda type has no namespace: the channel is a qualifier
        package.name,
        package.version,
    )
    assert parsed.qualifiers.get("channel") == (package.channel or None)
    assert parsed.to_string() == ours


def test_pypi_package_urls() -> None:
    assert PackageURL.from_string(pypi_purl("Ruamel_Yaml", "0.18.6")).to_string() == (
        "pkg:pypi/ruamel-yaml@0.18.6"
    )


def test_the_same_packages_give_the_same_bytes_and_others_another_serial() -> None:
    first = sbom_text("zstandard", "0.23.0", PACKAGES, RECORDS)
    assert sbom_text("zstandard", "0.23.0", tuple(reversed(PACKAGES)), RECORDS) == first
    other = json.loads(sbom_text("zstandard", "0.23.0", PACKAGES[:2], RECORDS))
    assert other["serialNumber"] != json.loads(first)["serialNumber"]
    assert "timestamp" not in json.loads(first)["metadata"]
