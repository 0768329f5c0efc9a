"""audit: wheels made here with zipfile, one finding at a time.

Wheels around binaries compiled by gcc are audited in tests/integration/test_audit_compiled.py.
"""

from __future__ import annotations

import json
import zipfile
from importlib.resources import files
from typing import TYPE_CHECKING

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from condapress._datapaths import BUILD_PREFIXES, PLACEHOLDERS
from condapress.audit import AUDIT_SCHEMA_VERSION, _scan, audit_document, audit_text, audit_wheel
from condapress.audit._integrity import CODES
from condapress.errors import ArchiveError
from condapress.model import Level
from support.wheels import METADATA, codes, make_wheel, only

if TYPE_CHECKING:
    from pathlib import Path

# --- pure wheels and integrity -----------------------------------------------------------------


def test_a_pure_wheel_is_ok_and_tagged_any(tmp_path: Path) -> None:
    report = audit_wheel(make_wheel(tmp_path, {"demo/__init__.py": b"x = 1\n"}))
    assert report.ok
    assert report.findings == ()
    assert report.libraries == ()
    assert report.claimed_tags == ("py3-none-any",)
    assert report.verdict.tag == "any"
    assert report.runtime is None
    assert audit_text(report) == (
        "demo-1.0-py3-none-any.whl\n"
        "  claims: py3-none-any\n"
        "  binaries allow: any (no binary files)\n"
        "\n"
        "demo-1.0-py3-none-any.whl: ok (0 errors, 0 warnings, 0 notes)\n"
    )


def test_the_runtime_policy_comes_from_the_provenance_file(tmp_path: Path) -> None:
    provenance = json.dumps({"version": 1, "runtime": "bundle", "packages": []}).encode()
    path = make_wheel(tmp_path, {}, dist_info={"conda-packages.json": provenance})
    assert audit_wheel(path).runtime == "bundle"


def test_a_broken_record_hash_is_an_error(tmp_path: Path) -> None:
    def spoil(rows: list[list[str]]) -> list[list[str]]:
        rows[0][1] = "sha256=" + "A" * 43
        return rows

    report = audit_wheel(make_wheel(tmp_path, {"demo/__init__.py": b"x = 1\n"}, edit_record=spoil))
    assert not report.ok
    finding = only(report, "record-hash-mismatch")
    assert finding.level is Level.ERROR
    assert finding.message == "RECORD has the wrong hash for 1 file: demo/__init__.py"
    assert finding.hint == "rebuild the wheel: installers that verify RECORD refuse it"
    assert finding.path == "demo-1.0.dist-info/RECORD"


def test_record_problems_are_collected_and_listed(tmp_path: Path) -> None:
    payload = {f"demo/m{i:02}.py": b"" for i in range(12)}

    def spoil(rows: list[list[str]]) -> list[list[str]]:
        kept = [row for row in rows if not row[0].startswith("demo/")]
        kept[0][2] = "1"  # METADATA's size
        return [*kept, ["demo/gone.py", "sha256=x", "1"], ["demo/weak.py", "md5=x", ""], ["a", "b"]]

    report = audit_wheel(make_wheel(tmp_path, {**payload, "demo/weak.py": b""}, edit_record=spoil))
    assert [(f.code, f.message) for f in report.findings] == [
        ("record-malformed", "RECORD has 1 malformed row (line 6)"),
        (
            "record-unlisted",
            (
                "RECORD does not list 12 files: demo/m00.py, demo/m01.py, demo/m02.py, "
                "demo/m03.py, demo/m04.py, demo/m05.py, demo/m06.py, demo/m07.py, demo/m08.py, "
                "demo/m09.py, ... and 2 more"
            ),
        ),
        ("record-missing-file", "RECORD lists 1 file that the wheel does not have: demo/gone.py"),
        ("record-no-hash", "RECORD has no sha256 (or stronger) hash for 1 file: demo/weak.py"),
        (
            "record-size-mismatch",
            "RECORD has the wrong size for 1 file: demo-1.0.dist-info/METADATA",
        ),
    ]


def test_a_missing_record_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("demo-1.0.dist-info/METADATA", METADATA)
        zf.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
    report = audit_wheel(path)
    assert only(report, "record-missing").message == "demo-1.0.dist-info/RECORD is missing"


def test_the_wheel_needs_exactly_one_dist_info(tmp_path: Path) -> None:
    none = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(none, "w") as zf:
        zf.writestr("demo/__init__.py", "")
    assert only(audit_wheel(none), "no-dist-info").message == "the wheel has no .dist-info folder"
    two = make_wheel(tmp_path, {"other-2.0.dist-info/METADATA": b""})
    assert only(audit_wheel(two), "many-dist-info").message == (
        "the wheel has 2 .dist-info folders (demo-1.0.dist-info, other-2.0.dist-info); "
        "it must have exactly one"
    )


@pytest.mark.parametrize(
    ("metadata", "code", "message"),
    [
        (
            "Metadata-Version: 2.4\nName: demo\n",
            "metadata-field-missing",
            "METADATA lacks the required field Version",
        ),
        (
            "Name: demo\n",
            "metadata-field-missing",
            "METADATA lacks the required fields Metadata-Version, Version",
        ),
        (
            "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nLicense-File: LICENSE\nFoo: 1\n",
            "metadata-invalid",
            (
                "METADATA is not valid core metadata: license-file introduced in metadata version "
                "2.4, not 2.1; unrecognized field: 'foo'"
            ),
        ),
        (
            "Metadata-Version: 2.4\nName: other\nVersion: 1.0\n",
            "name-mismatch",
            "the file name says the distribution is demo, but METADATA says other",
        ),
        (
            "Metadata-Version: 2.4\nName: demo\nVersion: 1.0.1\n",
            "version-mismatch",
            "the file name says version 1.0, but METADATA says 1.0.1",
        ),
    ],
)
def test_metadata_problems(tmp_path: Path, metadata: str, code: str, message: str) -> None:
    report = audit_wheel(make_wheel(tmp_path, {}, metadata=metadata))
    assert codes(report) == [code]
    assert report.findings[0].message == message
    assert report.findings[0].path == "demo-1.0.dist-info/METADATA"


def test_names_and_versions_compare_normalized(tmp_path: Path) -> None:
    metadata = "Metadata-Version: 2.4\nName: Demo\nVersion: 1.0.0\n"
    assert audit_wheel(make_wheel(tmp_path, {}, metadata=metadata)).findings == ()


def test_wheel_tags_must_match_the_file_name(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, {}, tags=("py2-none-any",), filename="demo-1.0-py3-none-any.whl")
    report = audit_wheel(path)
    assert only(report, "tag-mismatch").message == (
        "WHEEL lists the tags py2-none-any, but the file name claims py3-none-any"
    )
    assert report.claimed_tags == ("py2-none-any", "py3-none-any")


def test_a_bad_file_name_is_an_error(tmp_path: Path) -> None:
    report = audit_wheel(make_wheel(tmp_path, {}, filename="demo.whl"))
    assert only(report, "bad-filename").message == (
        "demo.whl is not a valid wheel file name: Invalid wheel filename (wrong number of "
        "parts): 'demo'"
    )


def test_a_member_outside_the_install_folder_is_an_error(tmp_path: Path) -> None:
    report = audit_wheel(make_wheel(tmp_path, {"../evil.py": b""}))
    assert only(report, "unsafe-path").message == (
        "../evil.py would be installed outside the installation folder"
    )


def test_a_corrupt_member_is_an_error(tmp_path: Path) -> None:
    path = make_wheel(tmp_path, {"demo/data.txt": b"hello world " * 10})
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("demo/data.txt")
    raw = bytearray(path.read_bytes())
    raw[info.header_offset + 30 + len(info.filename) + 5] ^= 0xFF  # inside the deflate stream
    path.write_bytes(bytes(raw))
    finding = only(audit_wheel(path), "unreadable-member")
    assert finding.message.startswith("demo/data.txt cannot be read from the archive: ")


def test_a_file_that_is_not_a_zip_archive_raises(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    path.write_text("not a zip")
    with pytest.raises(ArchiveError) as info:
        audit_wheel(path)
    assert info.value.message == (
        "cannot audit demo-1.0-py3-none-any.whl: it is not a readable zip archive "
        "(File is not a zip file)"
    )


def test_a_missing_wheel_is_named_as_check_names_it(tmp_path: Path) -> None:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    with pytest.raises(ArchiveError) as info:
        audit_wheel(path)
    assert (info.value.message, info.value.hint) == (
        f"no such file: {path}",
        "check the path of the wheel",
    )


def test_a_record_row_beyond_the_csv_field_limit_is_malformed(tmp_path: Path) -> None:
    def spoil(rows: list[list[str]]) -> list[list[str]]:
        return [*rows, ["x" * 200_000, "", ""]]

    report = audit_wheel(make_wheel(tmp_path, {}, edit_record=spoil))
    assert only(report, "record-malformed").message == "RECORD has 1 malformed row (line 4)"


@pytest.mark.parametrize("leaf", ["METADATA", "WHEEL"])
def test_a_missing_metadata_or_wheel_file_is_an_error(tmp_path: Path, leaf: str) -> None:
    path = make_wheel(tmp_path, {})
    spoiled = tmp_path / "spoiled" / path.name
    spoiled.parent.mkdir()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(spoiled, "w") as dst:
        for info in src.infolist():
            if info.filename != f"demo-1.0.dist-info/{leaf}":
                dst.writestr(info, src.read(info))
    report = audit_wheel(spoiled)
    code = f"{leaf.lower()}-missing" if leaf == "METADATA" else "wheel-file-missing"
    missing = [f for f in report.findings if f.code != "record-missing-file"]
    assert [(f.code, f.message) for f in missing] == [
        (code, f"demo-1.0.dist-info/{leaf} is missing")
    ]


def test_an_invalid_version_is_reported_once(tmp_path: Path) -> None:
    metadata = "Metadata-Version: 2.4\nName: demo\nVersion: one\n"
    report = audit_wheel(make_wheel(tmp_path, {}, metadata=metadata))
    assert [(f.code, f.message) for f in report.findings] == [
        ("metadata-invalid", "METADATA is not valid core metadata: 'one' is invalid for 'version'")
    ]


# --- build-prefix strings --------------------------------------------------------------------


def test_a_build_prefix_in_any_file_is_an_error(tmp_path: Path) -> None:
    text = b"prefix = '/home/conda/feedstock_root/build_artifacts/demo_1/_h_env_placehold_pl'\n"
    report = audit_wheel(make_wheel(tmp_path, {"demo/paths.py": text}))
    finding = only(report, "build-prefix")
    assert finding.message == "demo/paths.py contains the build prefix _h_env_placehold"
    assert finding.path == "demo/paths.py"
    assert finding.level is Level.ERROR


def test_a_bare_build_machine_path_is_a_warning(tmp_path: Path) -> None:
    text = b"assert failed at /home/conda/feedstock_root/build_artifacts/demo_1/work/x.c:12\n"
    report = audit_wheel(make_wheel(tmp_path, {"demo/blob.bin": text}))
    finding = only(report, "build-path")
    assert finding.message == (
        "demo/blob.bin contains the build-machine path /home/conda/feedstock_root/build_artifacts/"
    )
    assert finding.level is Level.WARNING
    assert report.ok


@settings(max_examples=50, deadline=None)
@given(
    offset=st.integers(min_value=0, max_value=300),
    prefix=st.sampled_from(BUILD_PREFIXES),
    size=st.integers(min_value=0, max_value=300),
)
def test_build_prefixes_are_found_across_chunk_boundaries(
    tmp_path_factory: pytest.TempPathFactory, offset: int, prefix: str, size: int
) -> None:
    chunk = vars(_scan)
    original, chunk["CHUNK"] = chunk["CHUNK"], 64  # a small chunk puts the string across several
    try:
        data = b"x" * offset + prefix.encode() + b"y" * size
        path = make_wheel(tmp_path_factory.mktemp("w"), {"demo/blob.bin": data})
        expected = "build-prefix" if prefix in PLACEHOLDERS else "build-path"
        assert codes(audit_wheel(path)) == [expected]
    finally:
        chunk["CHUNK"] = original


# --- the JSON document -----------------------------------------------------------------------


def test_the_document_validates_against_the_schema(tmp_path: Path) -> None:
    def spoil(rows: list[list[str]]) -> list[list[str]]:
        rows[0][1] = "sha256=nope"
        return rows

    reports = [
        audit_wheel(make_wheel(tmp_path, {"demo/a.py": b""})),
        audit_wheel(make_wheel(tmp_path, {"demo/a.py": b""}, edit_record=spoil, filename="x.whl")),
    ]
    document = audit_document(reports)
    schema = json.loads(files("condapress").joinpath("data/audit-schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["version"] == AUDIT_SCHEMA_VERSION == 1
    assert [w["ok"] for w in document["wheels"]] == [True, False]
    assert document["wheels"][1]["findings"][0]["level"] == "error"
    json.dumps(document)  # plain JSON types only


def test_the_schema_lists_every_finding_code() -> None:
    schema = json.loads(files("condapress").joinpath("data/audit-schema.json").read_text())
    listed = schema["$defs"]["finding"]["properties"]["code"]["enum"]
    assert listed == sorted(CODES)
    for code, (level, hint) in CODES.items():
        assert code == code.lower()
        assert " " not in code
        assert isinstance(level, Level)
        assert hint
