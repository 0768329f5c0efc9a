"""The fixture conda channel in channels_fixture/ is what its README promises.

Archives open with both conda libraries, info/ agrees with the payload, ELF
dynamic sections and symbols are as designed, placeholders sit exactly where
has_prefix says, py-rattler solves every package, the programs work (and
relocate), and a rebuild reproduces the committed bytes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import rattler
from conda_package_handling import api as cph_api
from conda_package_streaming import package_streaming
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from rattler.exceptions import SolverError

from support import FIXTURE_CHANNEL, REPO

CHANNEL = FIXTURE_CHANNEL
BUILDER = REPO / "scripts" / "build_fixture_channel.py"
SUBDIRS = ("linux-64", "noarch")

EXPECTED_ARCHIVES = {
    "linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2",
    "linux-64/_openmp_mutex-4.5-2_gnu.tar.bz2",
    "linux-64/libgcc-ng-13.2.0-h807b86a_5.conda",
    "linux-64/libgomp-13.2.0-h807b86a_5.conda",
    "linux-64/libgreet-1.0.0-hd590300_0.tar.bz2",
    "linux-64/libgreet-2.0.0-hd590300_0.conda",
    "linux-64/libgreetpp-1.0.0-h6712182_0.conda",
    "linux-64/libstdcxx-ng-13.2.0-h7e041cc_5.conda",
    "linux-64/pygreet-1.0.0-py310hbfe3c1e_0.conda",
    "linux-64/pygreet-1.0.0-py311h26e73d1_0.conda",
    "linux-64/pygreet-1.0.0-py312h1254688_0.conda",
    "linux-64/pyshout-2.0.0-py310hecea56f_0.conda",
    "linux-64/pyshout-2.0.0-py311h83ddc40_0.conda",
    "linux-64/pyshout-2.0.0-py312hc14fb9d_0.conda",
    "linux-64/python-3.10.13-hd12c33a_1_cpython.conda",
    "linux-64/python-3.11.7-hab00c5b_1_cpython.conda",
    "linux-64/python-3.12.1-hab00c5b_1_cpython.conda",
    "linux-64/python_abi-3.10-4_cp310.conda",
    "linux-64/python_abi-3.11-4_cp311.conda",
    "linux-64/python_abi-3.12-4_cp312.conda",
    "linux-64/tally-0.3.0-hd590300_0.conda",
    "noarch/salutation-python-1.2.0-pyhd8ed1ab_0.tar.bz2",
}

PYGREET = {
    "3.10": "pygreet-1.0.0-py310hbfe3c1e_0",
    "3.11": "pygreet-1.0.0-py311h26e73d1_0",
    "3.12": "pygreet-1.0.0-py312h1254688_0",
}
PYSHOUT = {
    "3.10": "pyshout-2.0.0-py310hecea56f_0",
    "3.11": "pyshout-2.0.0-py311h83ddc40_0",
    "3.12": "pyshout-2.0.0-py312hc14fb9d_0",
}
PYTHON_VERSIONS = {"3.10": "3.10.13", "3.11": "3.11.7", "3.12": "3.12.1"}
LIBGREET1 = "libgreet-1.0.0-hd590300_0"
LIBGREET2 = "libgreet-2.0.0-hd590300_0"
LIBGREETPP = "libgreetpp-1.0.0-h6712182_0"
TALLY = "tally-0.3.0-hd590300_0"
SALUTATION = "salutation-python-1.2.0-pyhd8ed1ab_0"

EXPECTED_HAS_PREFIX: dict[str, dict[str, str]] = {
    LIBGREET1: {
        "bin/greet-config": "text",
        "lib/libgreet.so.1.0.0": "binary",
        "lib/pkgconfig/libgreet.pc": "text",
    },
    LIBGREET2: {
        "bin/greet-config": "text",
        "lib/libgreet.so.2.0.0": "binary",
        "lib/pkgconfig/libgreet.pc": "text",
    },
    LIBGREETPP: {"lib/pkgconfig/libgreetpp.pc": "text"},
}

PLACEHOLDER_RE = re.compile(
    r"/home/conda/feedstock_root/build_artifacts/(?P<name>[a-z0-9_.-]+)_(?P<ts>\d{13})/_h_env"
)

# Mangled names of entities in namespace std (_ZNSt/_ZSt) and of entities local
# to functions in namespace std (_ZZNSt/_ZZSt, e.g. std::call_once's lambda).
STD_PREFIXES = ("_ZNSt", "_ZSt", "_ZZNSt", "_ZZSt")

CXX_NEEDED = ["libstdc++.so.6", "libgcc_s.so.1", "libc.so.6"]


@dataclass(frozen=True)
class Dyn:
    """What the dynamic section of an ELF file says."""

    soname: str | None
    needed: list[str]
    rpath: str | None
    runpath: str | None


def _ext(minor: str, name: str = "pygreet") -> str:
    nodot = minor.replace(".", "")
    return f"lib/python{minor}/site-packages/{name}/_{name}.cpython-{nodot}-x86_64-linux-gnu.so"


EXPECTED_ELF: dict[tuple[str, str], Dyn] = {
    (LIBGREET1, "lib/libgreet.so.1.0.0"): Dyn(
        "libgreet.so.1", ["libc.so.6", "ld-linux-x86-64.so.2"], None, None
    ),
    (LIBGREET1, "bin/greet"): Dyn(None, ["libgreet.so.1", "libc.so.6"], "$ORIGIN/../lib", None),
    (LIBGREET2, "lib/libgreet.so.2.0.0"): Dyn(
        "libgreet.so.2", ["libc.so.6", "ld-linux-x86-64.so.2"], None, None
    ),
    (LIBGREET2, "bin/greet"): Dyn(None, ["libgreet.so.2", "libc.so.6"], "$ORIGIN/../lib", None),
    (LIBGREETPP, "lib/libgreetpp.so.1.0.0"): Dyn(
        "libgreetpp.so.1",
        ["libgreet.so.1", *CXX_NEEDED, "ld-linux-x86-64.so.2"],
        "$ORIGIN/.",
        None,
    ),
    (TALLY, "lib/libtally.so.0.3.0"): Dyn("libtally.so.0", ["libc.so.6"], None, None),
    (TALLY, "bin/tally"): Dyn(None, ["libtally.so.0", "libc.so.6"], "$ORIGIN/../lib", None),
    **{
        (dist, _ext(minor)): Dyn(None, ["libgreetpp.so.1", *CXX_NEEDED], "$ORIGIN/../../..", None)
        for minor, dist in PYGREET.items()
    },
    **{
        (dist, _ext(minor, "pyshout")): Dyn(None, ["libgreet.so.2"], "$ORIGIN/../../..", None)
        for minor, dist in PYSHOUT.items()
    },
}

EXPECTED_SYMLINKS: dict[str, dict[str, str]] = {
    LIBGREET1: {"lib/libgreet.so": "libgreet.so.1", "lib/libgreet.so.1": "libgreet.so.1.0.0"},
    LIBGREET2: {"lib/libgreet.so": "libgreet.so.2", "lib/libgreet.so.2": "libgreet.so.2.0.0"},
    LIBGREETPP: {
        "lib/libgreetpp.so": "libgreetpp.so.1",
        "lib/libgreetpp.so.1": "libgreetpp.so.1.0.0",
    },
    TALLY: {"lib/libtally.so": "libtally.so.0", "lib/libtally.so.0": "libtally.so.0.3.0"},
}


def _archives() -> list[Path]:
    return sorted(
        p for sub in SUBDIRS for p in (CHANNEL / sub).iterdir() if p.name != "repodata.json"
    )


def _stem(archive: Path) -> str:
    return archive.name.removesuffix(".conda").removesuffix(".tar.bz2")


ARCHIVES = _archives()


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every archive extracted with conda-package-handling, keyed by dist name."""
    base = tmp_path_factory.mktemp("extracted")
    out: dict[str, Path] = {}
    for archive in ARCHIVES:
        dest = base / _stem(archive)
        cph_api.extract(str(archive), dest_dir=str(dest))
        out[_stem(archive)] = dest
    return out


def _payload(root: Path) -> list[str]:
    found = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if (p.is_file() or p.is_symlink()) and p.relative_to(root).parts[0] != "info"
    ]
    return sorted(found)


def _paths_json(root: Path) -> list[dict[str, object]]:
    data = json.loads((root / "info" / "paths.json").read_text())
    assert data["paths_version"] == 1
    entries: list[dict[str, object]] = data["paths"]
    return entries


def _dyn(path: Path) -> Dyn:
    soname: str | None = None
    rpath: str | None = None
    runpath: str | None = None
    needed: list[str] = []
    with path.open("rb") as f:
        dynamic = ELFFile(f).get_section_by_name(".dynamic")
        assert isinstance(dynamic, DynamicSection), f"{path} has no .dynamic section"
        for tag in dynamic.iter_tags():
            kind = str(tag.entry.d_tag)
            if kind not in {"DT_NEEDED", "DT_SONAME", "DT_RPATH", "DT_RUNPATH"}:
                continue
            # pyelftools sets .needed/.soname/.rpath/.runpath dynamically.
            value = str(getattr(tag, kind.removeprefix("DT_").lower()))
            if kind == "DT_NEEDED":
                needed.append(value)
            elif kind == "DT_SONAME":
                soname = value
            elif kind == "DT_RPATH":
                rpath = value
            else:
                runpath = value
    return Dyn(soname, needed, rpath, runpath)


def _weak_defined_std(path: Path) -> list[str]:
    with path.open("rb") as f:
        dynsym = ELFFile(f).get_section_by_name(".dynsym")
        assert isinstance(dynsym, SymbolTableSection)
        return [
            str(sym.name)
            for sym in dynsym.iter_symbols()
            if str(sym.name).startswith(STD_PREFIXES)
            and sym["st_info"]["bind"] == "STB_WEAK"
            and sym["st_shndx"] != "SHN_UNDEF"
        ]


def _is_elf(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"\x7fELF"


# --------------------------------------------------------------------------- layout


def test_channel_holds_exactly_the_documented_archives() -> None:
    found = {f"{p.parent.name}/{p.name}" for p in ARCHIVES}
    assert found == EXPECTED_ARCHIVES
    for sub in SUBDIRS:
        assert sorted(p.name for p in (CHANNEL / sub).iterdir() if not p.is_file()) == []


def test_repodata_lists_every_archive_with_its_hash() -> None:
    for sub in SUBDIRS:
        repodata = json.loads((CHANNEL / sub / "repodata.json").read_text())
        assert repodata["info"] == {"subdir": sub}
        records = {**repodata["packages"], **repodata["packages.conda"]}
        on_disk = {p.name: p for p in ARCHIVES if p.parent.name == sub}
        assert set(records) == set(on_disk)
        for name, record in records.items():
            data = on_disk[name].read_bytes()
            assert record["sha256"] == hashlib.sha256(data).hexdigest()
            assert record["size"] == len(data)
            assert "indexed_timestamp" not in record
            assert record["subdir"] == sub


def test_every_archive_opens_with_conda_package_handling_and_names_itself(
    extracted: dict[str, Path], subtests: pytest.Subtests
) -> None:
    for archive in ARCHIVES:
        with subtests.test(archive=archive.name):
            index = json.loads((extracted[_stem(archive)] / "info" / "index.json").read_text())
            assert f"{index['name']}-{index['version']}-{index['build']}" == _stem(archive)
            assert index["subdir"] == archive.parent.name
            assert isinstance(index["timestamp"], int)
            assert len(str(index["timestamp"])) == 13
            if archive.parent.name == "noarch":
                assert index["noarch"] == "python"
                assert index["arch"] is None
                assert index["platform"] is None
            else:
                assert (index["arch"], index["platform"]) == ("x86_64", "linux")
            info = extracted[_stem(archive)] / "info"
            assert (info / "about.json").is_file()
            assert "The condapress fixture authors" in (info / "licenses" / "LICENSE").read_text()


# --------------------------------------------------------------------------- archives


def test_conda_package_streaming_reads_the_same_members(
    extracted: dict[str, Path], subtests: pytest.Subtests
) -> None:
    for archive in ARCHIVES:
        with subtests.test(archive=archive.name):
            _same_members(archive, extracted[_stem(archive)])


def _same_members(archive: Path, root: Path) -> None:
    """conda-package-streaming reads the members conda-package-handling extracted to *root*."""
    components = ["info", "pkg"] if archive.name.endswith(".conda") else ["pkg"]
    streamed: dict[str, bytes | str] = {}
    for component in components:
        for tar, member in package_streaming.stream_conda_component(
            str(archive), component=component
        ):
            assert member.uid == member.gid == 0
            assert member.uname == member.gname == ""
            assert member.mtime == 1700000000
            if member.issym():
                streamed[member.name] = member.linkname
            else:
                assert member.isfile(), member.name
                f = tar.extractfile(member)
                assert f is not None
                streamed[member.name] = f.read()
    on_disk: dict[str, bytes | str] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            on_disk[rel] = str(p.readlink())
        elif p.is_file():
            on_disk[rel] = p.read_bytes()
    assert streamed == on_disk


def test_conda_archives_are_zip_stored_with_metadata_first() -> None:
    for archive in ARCHIVES:
        if not archive.name.endswith(".conda"):
            continue
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            stem = _stem(archive)
            names = [i.filename for i in infos]
            assert names == ["metadata.json", f"pkg-{stem}.tar.zst", f"info-{stem}.tar.zst"]
            assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
            assert json.loads(zf.read("metadata.json")) == {"conda_pkg_format_version": 2}


def test_paths_json_matches_payload(extracted: dict[str, Path], subtests: pytest.Subtests) -> None:
    for archive in ARCHIVES:
        with subtests.test(archive=archive.name):
            _paths_json_matches(extracted[_stem(archive)])


def _paths_json_matches(root: Path) -> None:
    entries = _paths_json(root)
    listed = [str(e["_path"]) for e in entries]
    assert listed == sorted(listed)
    assert listed == _payload(root)
    files = (root / "info" / "files").read_text().splitlines()
    assert files == listed
    for entry in entries:
        path = root / str(entry["_path"])
        keys = set(entry)
        assert keys in (
            {"_path", "path_type", "sha256", "size_in_bytes"},
            {"_path", "path_type", "sha256", "size_in_bytes", "file_mode", "prefix_placeholder"},
        )
        if entry["path_type"] == "softlink":
            assert path.is_symlink()
            target = path.resolve()
            assert target.is_relative_to(root.resolve())
            data = target.read_bytes()
        else:
            assert entry["path_type"] == "hardlink"
            assert not path.is_symlink()
            data = path.read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), entry["_path"]
        assert entry["size_in_bytes"] == len(data), entry["_path"]


def test_metadata_only_packages_have_empty_payload(extracted: dict[str, Path]) -> None:
    stand_ins = [
        "_libgcc_mutex-0.1-conda_forge",
        "_openmp_mutex-4.5-2_gnu",
        "libgcc-ng-13.2.0-h807b86a_5",
        "libgomp-13.2.0-h807b86a_5",
        "libstdcxx-ng-13.2.0-h7e041cc_5",
        "python-3.10.13-hd12c33a_1_cpython",
        "python-3.11.7-hab00c5b_1_cpython",
        "python-3.12.1-hab00c5b_1_cpython",
        "python_abi-3.10-4_cp310",
        "python_abi-3.11-4_cp311",
        "python_abi-3.12-4_cp312",
    ]
    for dist in stand_ins:
        assert _paths_json(extracted[dist]) == []
        assert _payload(extracted[dist]) == []


def test_soname_symlink_chains(extracted: dict[str, Path]) -> None:
    for dist, links in EXPECTED_SYMLINKS.items():
        root = extracted[dist]
        found = {
            p.relative_to(root).as_posix(): str(p.readlink())
            for p in (root / "lib").iterdir()
            if p.is_symlink()
        }
        assert found == links, dist
        entries = {e["_path"]: e["path_type"] for e in _paths_json(root)}
        for link in links:
            assert entries[link] == "softlink", (dist, link)


# --------------------------------------------------------------------------- placeholders


def test_has_prefix_lists_exactly_the_files_with_a_placeholder(
    extracted: dict[str, Path], subtests: pytest.Subtests
) -> None:
    for archive in ARCHIVES:
        with subtests.test(archive=archive.name):
            _placeholders_as_listed(_stem(archive), extracted[_stem(archive)])


def _placeholders_as_listed(dist: str, root: Path) -> None:
    """info/has_prefix and paths.json name exactly the files of *root* holding the placeholder."""
    has_prefix_file = root / "info" / "has_prefix"
    expected = EXPECTED_HAS_PREFIX.get(dist, {})
    if not expected:
        assert not has_prefix_file.exists()
    lines = has_prefix_file.read_text().splitlines() if expected else []
    listed: dict[str, tuple[str, str]] = {}
    for line in lines:
        placeholder, mode, path = line.split(" ")
        listed[path] = (placeholder, mode)
    assert {p: m for p, (_, m) in listed.items()} == expected

    for entry in _paths_json(root):
        path = str(entry["_path"])
        if path in listed:
            assert entry["prefix_placeholder"] == listed[path][0]
            assert entry["file_mode"] == listed[path][1]
        else:
            assert "prefix_placeholder" not in entry

    for rel in _payload(root):
        p = root / rel
        if p.is_symlink():
            continue
        data = p.read_bytes()
        if rel in listed:
            assert listed[rel][0].encode() in data, rel
            assert (b"\0" in data) == (listed[rel][1] == "binary"), rel
        else:
            assert b"_h_env_placehold" not in data, rel


def test_placeholder_is_conda_forges_255_character_prefix(extracted: dict[str, Path]) -> None:
    for dist in sorted(EXPECTED_HAS_PREFIX):
        lines = (extracted[dist] / "info" / "has_prefix").read_text().splitlines()
        placeholders = {line.split(" ")[0] for line in lines}
        assert len(placeholders) == 1, dist
        (placeholder,) = placeholders
        assert len(placeholder) == 255
        match = PLACEHOLDER_RE.match(placeholder)
        assert match is not None
        assert match["name"] == dist.split("-", 1)[0]
        padded = match.group(0) + "_placehold" * 30
        assert placeholder == padded[:255]


# --------------------------------------------------------------------------- ELF


def test_every_elf_file_is_covered(extracted: dict[str, Path]) -> None:
    found = {
        (dist, rel)
        for dist, root in extracted.items()
        for rel in _payload(root)
        if not (root / rel).is_symlink() and _is_elf(root / rel)
    }
    assert found == set(EXPECTED_ELF)


def test_elf_dynamic_sections(extracted: dict[str, Path]) -> None:
    # sonames, DT_NEEDED in link order, and conda-forge's DT_RPATH (never DT_RUNPATH)
    found = {(dist, rel): _dyn(extracted[dist] / rel) for dist, rel in EXPECTED_ELF}
    assert found == EXPECTED_ELF


def test_libgreetpp_exports_weak_std_symbols(extracted: dict[str, Path]) -> None:
    weak = _weak_defined_std(extracted[LIBGREETPP] / "lib" / "libgreetpp.so.1.0.0")
    assert any(name.startswith("_ZNSt6vector") for name in weak), weak
    assert any("9call_once" in name for name in weak), weak


def test_libgreet_exports_no_std_symbols(extracted: dict[str, Path]) -> None:
    assert _weak_defined_std(extracted[LIBGREET1] / "lib" / "libgreet.so.1.0.0") == []
    assert _weak_defined_std(extracted[LIBGREET2] / "lib" / "libgreet.so.2.0.0") == []


def test_libgreet_majors_differ_in_abi(extracted: dict[str, Path]) -> None:
    def exported(path: Path) -> set[str]:
        with path.open("rb") as f:
            dynsym = ELFFile(f).get_section_by_name(".dynsym")
            assert isinstance(dynsym, SymbolTableSection)
            return {
                str(s.name)
                for s in dynsym.iter_symbols()
                if s["st_shndx"] != "SHN_UNDEF" and str(s.name).startswith("greet_")
            }

    v1 = exported(extracted[LIBGREET1] / "lib" / "libgreet.so.1.0.0")
    v2 = exported(extracted[LIBGREET2] / "lib" / "libgreet.so.2.0.0")
    assert v2 - v1 == {"greet_shout"}
    assert v1 <= v2
    assert "greet_datadir" in v1
    assert "greet_message" in v1


# --------------------------------------------------------------------------- python metadata


def _record(path: Path) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in path.read_text().splitlines():
        name, digest, size = line.rsplit(",", 2)
        rows[name] = (digest, size)
    return rows


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


#: (name, version, python minor, the Requires-Dist lines of its METADATA) of each extension build.
EXTENSION_DISTS = [
    *[("pygreet", "1.0.0", minor, ["Requires-Dist: salutation>=1.2"]) for minor in PYGREET],
    *[("pyshout", "2.0.0", minor, []) for minor in PYSHOUT],
]


def test_extension_dist_info(extracted: dict[str, Path], subtests: pytest.Subtests) -> None:
    for name, version, minor, requires_dist in EXTENSION_DISTS:
        dist = {"pygreet": PYGREET, "pyshout": PYSHOUT}[name][minor]
        with subtests.test(dist=dist):
            _dist_info_as_pip_wrote_it(extracted[dist], name, version, minor, requires_dist)


def _dist_info_as_pip_wrote_it(
    root: Path, name: str, version: str, minor: str, requires_dist: list[str]
) -> None:
    site = root / "lib" / f"python{minor}" / "site-packages"
    di = site / f"{name}-{version}.dist-info"
    assert (di / "INSTALLER").read_text() == "conda"
    assert (di / "REQUESTED").read_bytes() == b""
    assert (di / "top_level.txt").read_text() == f"{name}\n"
    url = json.loads((di / "direct_url.json").read_text())
    assert url["dir_info"] == {}
    assert url["url"].startswith(f"file:///home/conda/feedstock_root/build_artifacts/{name}_")
    assert url["url"].endswith("/work")
    headers = (di / "METADATA").read_text().split("\n\n")[0].splitlines()
    assert "Metadata-Version: 2.1" in headers
    assert f"Name: {name}" in headers
    assert f"Version: {version}" in headers
    assert any(h.startswith("Summary: ") for h in headers)
    assert "License: MIT" in headers
    assert "Requires-Python: >=3.10" in headers
    assert [h for h in headers if h.startswith("Requires-Dist:")] == requires_dist
    nodot = minor.replace(".", "")
    assert f"Tag: cp{nodot}-cp{nodot}-linux_x86_64" in (di / "WHEEL").read_text()
    assert (root / "info" / "licenses" / "LICENSE").is_file()
    record = _record(di / "RECORD")
    ext = f"{name}/_{name}.cpython-{nodot}-x86_64-linux-gnu.so"
    assert set(record) == {
        f"{name}-{version}.dist-info/{n}"
        for n in (
            "INSTALLER",
            "METADATA",
            "RECORD",
            "REQUESTED",
            "WHEEL",
            "direct_url.json",
            "top_level.txt",
        )
    } | {f"{name}/__init__.py", ext}
    for rel, (digest, size) in record.items():
        if rel.endswith("/RECORD"):
            assert (digest, size) == ("", "")
            continue
        data = (site / rel).read_bytes()
        if rel == ext:
            # Stale on purpose, as in conda-forge: RECORD was written by pip
            # before conda-build rewrote the extension's RPATH.
            assert digest != _record_hash(data)
        else:
            assert (digest, size) == (_record_hash(data), str(len(data))), rel


def test_salutation_is_noarch_python_with_a_different_pypi_name(
    extracted: dict[str, Path],
) -> None:
    root = extracted[SALUTATION]
    link = json.loads((root / "info" / "link.json").read_text())
    assert link == {
        "noarch": {"type": "python", "entry_points": ["salute = salutation.cli:main"]},
        "package_metadata_version": 1,
    }
    index = json.loads((root / "info" / "index.json").read_text())
    assert index["depends"] == ["python >=3.8"]
    assert index["build"] == "pyhd8ed1ab_0"
    site = root / "site-packages"
    di = site / "salutation-1.2.0.dist-info"
    headers = (di / "METADATA").read_text().split("\n\n")[0].splitlines()
    assert "Name: salutation" in headers
    assert "Version: 1.2.0" in headers
    assert "Requires-Python: >=3.8" in headers
    assert (di / "entry_points.txt").read_text() == (
        "[console_scripts]\nsalute = salutation.cli:main\n\n"
    )
    record = _record(di / "RECORD")
    not_shipped = {n for n in record if not (site / n).exists()}
    assert not_shipped == {
        "../../../bin/salute",
        "salutation/__pycache__/__init__.cpython-312.pyc",
        "salutation/__pycache__/cli.cpython-312.pyc",
    }
    for name, (digest, size) in record.items():
        if name in not_shipped or name.endswith("/RECORD"):
            continue
        data = (site / name).read_bytes()
        assert (digest, size) == (_record_hash(data), str(len(data))), name


def test_extension_build_string_and_pins(
    extracted: dict[str, Path], subtests: pytest.Subtests
) -> None:
    for name, version, minor, _ in EXTENSION_DISTS:
        dist = {"pygreet": PYGREET, "pyshout": PYSHOUT}[name][minor]
        with subtests.test(dist=dist):
            _build_string_and_pins(extracted[dist] / "info", name, version, minor)


def _build_string_and_pins(info: Path, name: str, version: str, minor: str) -> None:
    """conda-build's py-build string (the hash of hash_input.json) and the python pins."""
    index = json.loads((info / "index.json").read_text())
    hash_input = json.loads((info / "hash_input.json").read_text())
    assert hash_input["python"] == f"{minor}.* *_cpython"
    digest = hashlib.sha1(
        json.dumps(hash_input, sort_keys=True).encode(), usedforsecurity=False
    ).hexdigest()
    nodot = minor.replace(".", "")
    assert index["build"] == f"py{nodot}h{digest[:7]}_0"
    assert (index["name"], index["version"]) == (name, version)
    next_minor = f"3.{int(minor.split('.')[1]) + 1}"
    pins = [f"python >={minor},<{next_minor}.0a0", f"python_abi {minor}.* *_cp{nodot}"]
    if name == "pyshout":
        assert index["depends"] == ["libgcc-ng >=12", "libgreet >=2.0.0,<3.0a0", *pins]
    else:
        assert set(pins) <= set(index["depends"])


def test_run_exports(extracted: dict[str, Path]) -> None:
    def run_exports(dist: str) -> object:
        path = extracted[dist] / "info" / "run_exports.json"
        return json.loads(path.read_text()) if path.exists() else None

    assert run_exports(LIBGREET1) == {"weak": ["libgreet >=1.0.0,<2.0a0"]}
    assert run_exports(LIBGREET2) == {"weak": ["libgreet >=2.0.0,<3.0a0"]}
    assert run_exports(LIBGREETPP) == {"weak": ["libgreetpp >=1.0.0,<2.0a0"]}
    assert run_exports(TALLY) is None
    assert run_exports(PYGREET["3.11"]) is None
    assert run_exports(PYSHOUT["3.11"]) is None


# --------------------------------------------------------------------------- solving


def _solve(specs: list[str], cache: Path) -> dict[str, rattler.RepoDataRecord]:
    virtual = [
        rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), rattler.BuildString("0")
        )
        for name, version in (("__glibc", "2.17"), ("__unix", "0"), ("__linux", "5.10"))
    ]
    records = asyncio.run(
        rattler.solve(
            sources=[rattler.Channel(str(CHANNEL))],
            specs=specs,
            gateway=rattler.Gateway(cache_dir=cache),
            platforms=["linux-64", "noarch"],
            virtual_packages=virtual,
        )
    )
    return {r.name.normalized: r for r in records}


RUNTIME = {"libgcc-ng", "libgomp", "_libgcc_mutex", "_openmp_mutex"}


def test_solve_pygreet_for_each_python(tmp_path: Path) -> None:
    for minor in sorted(PYGREET):
        solved = _solve(["pygreet", f"python {minor}.*"], tmp_path)
        assert set(solved) == RUNTIME | {
            "pygreet",
            "libgreetpp",
            "libgreet",
            "libstdcxx-ng",
            "salutation-python",
            "python",
            "python_abi",
        }
        assert f"pygreet-{solved['pygreet'].version}-{solved['pygreet'].build}" == PYGREET[minor]
        assert str(solved["libgreet"].version) == "1.0.0"
        assert str(solved["libgreetpp"].version) == "1.0.0"
        assert str(solved["salutation-python"].version) == "1.2.0"
        assert str(solved["python"].version) == PYTHON_VERSIONS[minor]
        assert str(solved["python_abi"].build) == f"4_cp{minor.replace('.', '')}"


def test_solve_pyshout_for_each_python(tmp_path: Path) -> None:
    for minor in sorted(PYSHOUT):
        solved = _solve(["pyshout", f"python {minor}.*"], tmp_path)
        assert set(solved) == RUNTIME | {"pyshout", "libgreet", "python", "python_abi"}
        assert f"pyshout-{solved['pyshout'].version}-{solved['pyshout'].build}" == PYSHOUT[minor]
        assert str(solved["libgreet"].version) == "2.0.0"
        assert str(solved["python"].version) == PYTHON_VERSIONS[minor]
        assert str(solved["python_abi"].build) == f"4_cp{minor.replace('.', '')}"


def test_pygreet_and_pyshout_cannot_share_a_conda_environment(tmp_path: Path) -> None:
    # pygreet needs libgreet 1 (through libgreetpp), pyshout libgreet 2: one
    # conda environment holds one libgreet, only wheels can carry both.
    with pytest.raises(SolverError):
        _solve(["pygreet", "pyshout"], tmp_path)


def test_solve_every_package_of_the_channel(tmp_path: Path) -> None:
    for archive in ARCHIVES:
        repodata = json.loads((CHANNEL / archive.parent.name / "repodata.json").read_text())
        key = "packages.conda" if archive.name.endswith(".conda") else "packages"
        record = repodata[key][archive.name]
        spec = f"{record['name']} =={record['version']} {record['build']}"
        solved = _solve([spec], tmp_path)
        assert solved[record["name"]].file_name == archive.name, spec


def test_both_libgreet_majors_are_solvable(tmp_path: Path) -> None:
    assert str(_solve(["libgreet"], tmp_path)["libgreet"].version) == "2.0.0"
    assert str(_solve(["libgreet <2"], tmp_path)["libgreet"].version) == "1.0.0"
    with pytest.raises(SolverError):
        _solve(["libgreetpp", "libgreet >=2"], tmp_path)


# --------------------------------------------------------------------------- running


needs_linux_x86_64 = pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64",
    reason="the fixture binaries are linux-64",
)


def _prefix(tmp_path: Path, extracted: dict[str, Path], *dists: str) -> Path:
    prefix = tmp_path / "prefix"
    for dist in dists:
        for rel in _payload(extracted[dist]):
            src = extracted[dist] / rel
            dest = prefix / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                dest.symlink_to(src.readlink())
            else:
                shutil.copy2(src, dest)
    return prefix


def _relocate_binary(path: Path, placeholder: str, new_prefix: str) -> None:
    """Rewrite placeholder strings the way conda does in binary mode (NUL padded)."""
    data = path.read_bytes()
    pattern = re.compile(re.escape(placeholder.encode()) + rb"([^\0]*)")

    def replace(match: re.Match[bytes]) -> bytes:
        new = new_prefix.encode() + match.group(1)
        return new + b"\0" * (len(match.group(0)) - len(new))

    path.write_bytes(pattern.sub(replace, data))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LIBGREET_DATADIR"}
    env.update(extra)
    return env


@needs_linux_x86_64
def test_greet_finds_its_data_by_env_or_relative_prefix(
    tmp_path: Path, extracted: dict[str, Path], subtests: pytest.Subtests
) -> None:
    for dist, version in ((LIBGREET1, "1.0.0"), (LIBGREET2, "2.0.0")):
        with subtests.test(dist=dist):
            _greet_finds_its_data(tmp_path / dist, extracted, dist, version)


def _greet_finds_its_data(
    tmp_path: Path, extracted: dict[str, Path], dist: str, version: str
) -> None:
    """libgreet's program: its data by LIBGREET_DATADIR, then by a prefix relocated to ``..``."""
    prefix = _prefix(tmp_path, extracted, dist)
    greet = str(prefix / "bin" / "greet")
    expected = f"Hello, Ada! (from share/libgreet/greeting.txt of libgreet {version})\n"

    # Unrelocated: the compiled-in placeholder prefix does not exist.
    run = subprocess.run([greet, "Ada"], capture_output=True, text=True, env=_env(), check=False)
    assert run.returncode == 1
    assert run.stderr.startswith("greet: cannot open /home/conda/feedstock_root/")
    assert run.stderr.rstrip().endswith("/share/libgreet/greeting.txt: No such file or directory")

    datadir = str(prefix / "share" / "libgreet")
    run = subprocess.run(
        [greet, "Ada"],
        capture_output=True,
        text=True,
        env=_env(LIBGREET_DATADIR=datadir),
        check=False,
    )
    assert (run.returncode, run.stdout) == (0, expected)

    placeholder = (extracted[dist] / "info" / "has_prefix").read_text().split(" ")[0]
    lib = prefix / "lib" / f"libgreet.so.{version}"
    _relocate_binary(lib, placeholder, "..")
    run = subprocess.run([greet, "Ada"], capture_output=True, text=True, env=_env(), check=True)
    assert run.stdout == expected
    run = subprocess.run(
        [greet, "--datadir"], capture_output=True, text=True, env=_env(), check=True
    )
    assert run.stdout == f"{prefix}/lib/../share/libgreet\n"


@needs_linux_x86_64
def test_tally_counts_characters(tmp_path: Path, extracted: dict[str, Path]) -> None:
    prefix = _prefix(tmp_path, extracted, TALLY)
    run = subprocess.run(
        [str(prefix / "bin" / "tally"), "ab", "cde"], capture_output=True, text=True, check=True
    )
    assert run.stdout == "5\n"


@needs_linux_x86_64
@pytest.mark.skipif(
    f"{sys.version_info[0]}.{sys.version_info[1]}" not in PYGREET,
    reason="pygreet is built for CPython 3.10-3.12 only",
)
def test_pygreet_imports_and_calls_through_to_the_data_file(
    tmp_path: Path, extracted: dict[str, Path]
) -> None:
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    prefix = _prefix(tmp_path, extracted, LIBGREET1, LIBGREETPP, PYGREET[minor])
    site = prefix / "lib" / f"python{minor}" / "site-packages"
    shutil.copytree(extracted[SALUTATION] / "site-packages", site, dirs_exist_ok=True)
    code = (
        "import pygreet\n"
        "print(pygreet.libgreet_version())\n"
        "print(pygreet.datadir())\n"
        "print(pygreet.greet('Ada'))\n"
        "print(pygreet.salute('Ada'))\n"
        "import salutation.cli\n"
        "raise SystemExit(salutation.cli.main(['Bob']))\n"
    )
    datadir = str(prefix / "share" / "libgreet")
    env = _env(LIBGREET_DATADIR=datadir, PYTHONPATH=str(site))
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    greeting = "Hello, Ada! (from share/libgreet/greeting.txt of libgreet 1.0.0)"
    assert run.stdout.splitlines() == [
        "1",
        datadir,
        greeting,
        f"{greeting} Greetings, Ada.",
        "Greetings, Bob.",
    ], run.stderr
    assert run.returncode == 0

    env = _env(PYTHONPATH=str(site))
    code = "import pygreet\ntry:\n    pygreet.greet('Ada')\nexcept RuntimeError as e:\n    print(e)"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert run.stdout.startswith("greet_message failed: cannot open /home/conda/feedstock_root/")


def _interpreter(minor: str) -> Path:
    """CPython ``minor`` from pyenv (newest micro first), else ``python3.X`` on PATH."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == minor:
        return Path(sys.executable)
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        out = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        roots.insert(1, out.stdout.strip())
    for root in filter(None, roots):
        found = sorted(
            (Path(root) / "versions").glob(f"{minor}.*/bin/python{minor}"),
            key=lambda p: int(p.parts[-3].split(".")[-1]) if p.parts[-3][-1].isdigit() else -1,
            reverse=True,
        )
        if found:
            return found[0]
    which = shutil.which(f"python{minor}")
    if which is None:
        pytest.skip(f"no CPython {minor} (pyenv or python{minor} on PATH)")
    return Path(which)


def _relocated_prefix(tmp_path: Path, extracted: dict[str, Path], *dists: str) -> Path:
    """Install ``dists`` and rewrite libgreet's placeholder to ``..`` (found beside it)."""
    prefix = _prefix(tmp_path, extracted, *dists)
    for dist in dists:
        has_prefix = extracted[dist] / "info" / "has_prefix"
        if not dist.startswith("libgreet-") or not has_prefix.exists():
            continue
        for line in has_prefix.read_text().splitlines():
            placeholder, mode, rel = line.split(" ")
            if mode == "binary":
                _relocate_binary(prefix / rel, placeholder, "..")
    return prefix


@needs_linux_x86_64
def test_pyshout_calls_libgreet_2(
    tmp_path: Path, extracted: dict[str, Path], subtests: pytest.Subtests
) -> None:
    for minor in sorted(PYSHOUT):
        with subtests.test(python=minor):
            _pyshout_calls_libgreet_2(str(_interpreter(minor)), minor, tmp_path / minor, extracted)


def _pyshout_calls_libgreet_2(
    python: str, minor: str, tmp_path: Path, extracted: dict[str, Path]
) -> None:
    prefix = _prefix(tmp_path, extracted, LIBGREET2, PYSHOUT[minor])
    site = prefix / "lib" / f"python{minor}" / "site-packages"
    code = (
        "import pyshout\n"
        "print(pyshout.__version__)\n"
        "print(pyshout.libgreet_version())\n"
        "print(pyshout.datadir())\n"
        "print(pyshout.greet('Ada'))\n"
        "print(pyshout.shout('Ada'))\n"
    )
    datadir = str(prefix / "share" / "libgreet")
    env = _env(LIBGREET_DATADIR=datadir, PYTHONPATH=str(site))
    run = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert run.stdout.splitlines() == [
        "2.0.0",
        "2",
        datadir,
        "Hello, Ada! (from share/libgreet/greeting.txt of libgreet 2.0.0)",
        "HELLO, ADA! (FROM SHARE/LIBGREET/GREETING.TXT OF LIBGREET 2.0.0)",
    ], run.stderr
    assert run.returncode == 0

    # Unrelocated: libgreet looks in the placeholder prefix and fails cleanly.
    code = "import pyshout\ntry:\n    pyshout.shout('Ada')\nexcept RuntimeError as e:\n    print(e)"
    env = _env(PYTHONPATH=str(site))
    run = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert run.stdout.startswith("greet_shout failed: cannot open /home/conda/feedstock_root/")

    placeholder = (extracted[LIBGREET2] / "info" / "has_prefix").read_text().split(" ")[0]
    _relocate_binary(prefix / "lib" / "libgreet.so.2.0.0", placeholder, "..")
    code = "import pyshout\nprint(pyshout.datadir())\nprint(pyshout.shout('Bob'))\n"
    run = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert run.stdout.splitlines() == [
        f"{prefix}/lib/../share/libgreet",
        "HELLO, BOB! (FROM SHARE/LIBGREET/GREETING.TXT OF LIBGREET 2.0.0)",
    ]


@needs_linux_x86_64
def test_pygreet_and_pyshout_each_load_their_own_libgreet(
    tmp_path: Path, extracted: dict[str, Path], subtests: pytest.Subtests
) -> None:
    # libgreet 1 and 2 export the same symbol names under different SONAMEs;
    # one process that imports both extensions must bind each to its own, in either order.
    for minor in sorted(PYSHOUT):
        with subtests.test(python=minor):
            python = str(_interpreter(minor))
            folder = tmp_path / minor
            one = _relocated_prefix(
                folder / "one", extracted, LIBGREET1, LIBGREETPP, PYGREET[minor]
            )
            two = _relocated_prefix(folder / "two", extracted, LIBGREET2, PYSHOUT[minor])
            sites = [p / "lib" / f"python{minor}" / "site-packages" for p in (one, two)]
            for first in ("pygreet", "pyshout"):
                _each_its_own_libgreet(python, sites, first)


def _each_its_own_libgreet(python: str, sites: list[Path], first: str) -> None:
    second = "pyshout" if first == "pygreet" else "pygreet"
    code = (
        f"import {first}, {second}\n"
        "import pygreet, pyshout\n"
        "print(pygreet.libgreet_version(), pyshout.libgreet_version())\n"
        "print(pygreet.greet('Ada'))\n"
        "print(pyshout.greet('Ada'))\n"
        "print(pyshout.shout('Ada'))\n"
        "import os\n"
        "maps = open('/proc/self/maps').read().split()\n"
        "print(sorted({os.path.basename(p) for p in maps if 'libgreet.so' in p}))\n"
    )
    env = _env(PYTHONPATH=os.pathsep.join(map(str, sites)))
    run = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert run.stdout.splitlines() == [
        "1 2",
        "Hello, Ada! (from share/libgreet/greeting.txt of libgreet 1.0.0)",
        "Hello, Ada! (from share/libgreet/greeting.txt of libgreet 2.0.0)",
        "HELLO, ADA! (FROM SHARE/LIBGREET/GREETING.TXT OF LIBGREET 2.0.0)",
        "['libgreet.so.1.0.0', 'libgreet.so.2.0.0']",
    ], run.stderr
    assert run.returncode == 0


# --------------------------------------------------------------------------- reproducibility


@pytest.mark.slow
def test_rebuild_reproduces_the_committed_archives(tmp_path: Path) -> None:
    if shutil.which("gcc") is None or shutil.which("g++") is None:
        pytest.skip("no C compiler (gcc/g++) on PATH: cannot rebuild the fixture channel")
    probe = subprocess.run(
        [sys.executable, str(BUILDER), "--toolchain"], capture_output=True, text=True, check=True
    )
    recorded = json.loads((CHANNEL / "recipes" / "toolchain.json").read_text())
    current = json.loads(probe.stdout)
    if current != recorded:
        pytest.skip(
            f"toolchain {current} differs from the recorded {recorded}: "
            "the rebuilt bytes cannot match the committed archives"
        )
    out = tmp_path / "channel"
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    subprocess.run(
        [sys.executable, str(BUILDER), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    for sub in SUBDIRS:
        committed = {p.name: p.read_bytes() for p in (CHANNEL / sub).iterdir()}
        rebuilt = {p.name: p.read_bytes() for p in (out / sub).iterdir()}
        assert sorted(rebuilt) == sorted(committed)
        differing = sorted(name for name in committed if committed[name] != rebuilt[name])
        assert differing == []
