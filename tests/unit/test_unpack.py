from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import http.server
import io
import logging
import os
import resource
import shutil
import stat
import tarfile
import threading
import time
import zipfile
from typing import IO, TYPE_CHECKING, Any, ClassVar

import pytest
import zstandard

from condapress.errors import ArchiveError, ChannelError, MetadataError, WriteError
from condapress.model import CondaRecord, FileMode, NoArch, PathEntry, PathType
from condapress.unpack import _fetch, _verdicts, extract, fetch, read_info, read_python_metadata
from support.conda_archives import (
    DIST,
    LIB,
    METADATA,
    M,
    Package,
    index,
    sha,
    tar_bytes,
    write_conda,
)
from support.factories import record

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

UNSAFE_HINT = "do not use this archive; report it to the channel it came from"
MISMATCH_HINT = "the archive was changed after it was built; download it again from its channel"
DEFAULT_HINT = "delete the file and download it again; report the package if it persists"
METADATA_HINT = "the package was not built by conda-build or rattler-build; rebuild it"


@pytest.fixture(params=["conda", "tar_bz2"])
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def build(package: Package, folder: Path, fmt: str) -> Path:
    return package.conda(folder) if fmt == "conda" else package.tar_bz2(folder)


def assert_error(
    exc: pytest.ExceptionInfo[Exception], kind: type[Exception], message: str, hint: str
) -> None:
    assert type(exc.value) is kind
    assert str(exc.value) == message
    assert getattr(exc.value, "hint", None) == hint


# -- good packages ---------------------------------------------------------------------------


def test_read_info_reads_every_info_file(tmp_path: Path, fmt: str) -> None:
    archive = build(Package(), tmp_path, fmt)
    info = read_info(archive)
    record = info.record
    assert (record.name, record.version, record.build, record.build_number) == (
        "demo",
        "1.0",
        "h0_0",
        0,
    )
    assert (record.subdir, record.depends, record.license) == (
        "linux-64",
        ("libzlib >=1.2",),
        "MIT",
    )
    assert (record.file_name, record.url, record.sha256, record.timestamp) == (
        archive.name,
        "",
        None,
        1700000000000,
    )
    assert record.noarch is NoArch.NONE
    assert info.entry_points == ("d = a:b",)
    assert info.run_exports == ("demo >=1.0", "demo-rt")
    assert (info.summary, info.home, info.dev_url) == ("A demo", "https://example.org", None)
    assert info.license_files == ("LICENSE",)
    assert info.paths[0] == PathEntry("lib/libdemo.so.1.0", PathType.HARDLINK, sha(LIB), len(LIB))
    assert info.paths[1].path_type is PathType.SOFTLINK
    assert info.site_packages == (
        "site-packages/demo/__init__.py",
        "site-packages/demo_py-1.0.dist-info/METADATA",
    )


def test_extract_round_trips(tmp_path: Path, fmt: str) -> None:
    archive = build(Package(), tmp_path, fmt)
    unpacked = extract(archive, tmp_path / "out")
    root = tmp_path / "out"
    assert (unpacked.root, unpacked.archive) == (root, archive)
    assert unpacked.info == read_info(archive)
    assert (root / "lib/libdemo.so.1.0").read_bytes() == LIB
    assert (root / "lib/libdemo.so.1").readlink().as_posix() == "libdemo.so.1.0"
    assert (root / "info/index.json").is_file()


def test_extract_into_an_existing_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    extract(Package().conda(tmp_path), tmp_path / "out")
    assert (tmp_path / "out/lib/libdemo.so.1.0").is_file()


def test_extract_refuses_a_folder_with_content(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out/keep").write_text("mine")
    with pytest.raises(ArchiveError) as exc:
        extract(Package().conda(tmp_path), tmp_path / "out")
    assert_error(
        exc,
        ArchiveError,
        f"cannot extract {DIST}.conda into {tmp_path / 'out'}: it is not an empty folder",
        "pass a folder that does not exist yet, or an empty one",
    )
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep"]


def test_read_python_metadata(tmp_path: Path, fmt: str) -> None:
    metadata = read_python_metadata(build(Package(), tmp_path, fmt))
    assert metadata is not None
    assert metadata["Name"] == "Demo-Py"
    plain = Package(payload=[M("lib/libdemo.so", LIB)])
    assert read_python_metadata(plain.conda(tmp_path, "plain-1-0.conda")) is None


def test_read_python_metadata_in_lib_python(tmp_path: Path) -> None:
    member = M("lib/python3.12/site-packages/demo_py-1.0.dist-info/METADATA", METADATA)
    nested = M("lib/python3.12/site-packages/vendor/x-1.dist-info/METADATA", b"Name: no\n")
    metadata = read_python_metadata(Package(payload=[nested, member]).conda(tmp_path))
    assert metadata is not None
    assert metadata["Name"] == "Demo-Py"


def test_a_renamed_archive_is_read_by_its_inner_names(tmp_path: Path) -> None:
    archive = Package().conda(tmp_path, f"{'0' * 64}-{DIST}.conda")
    assert read_info(archive).record.name == "demo"
    assert extract(archive, tmp_path / "out").info.record.file_name == archive.name


def test_an_old_package_without_paths_json(tmp_path: Path) -> None:
    has_prefix = M("info/has_prefix", b'/opt/prefix text "lib/libdemo.so.1.0"\nbin/tool\n')
    payload = [*Package().payload, M("bin/tool", b"#!/opt/anaconda1anaconda2anaconda3/bin/sh\n")]
    archive = Package(payload=payload, legacy=True, extra_info=[has_prefix]).tar_bz2(tmp_path)
    info = read_info(archive)
    assert info.paths[0] == PathEntry(
        "lib/libdemo.so.1.0", PathType.HARDLINK, None, None, "/opt/prefix", FileMode.TEXT
    )
    assert info.paths[-1].prefix_placeholder == "/opt/anaconda1anaconda2anaconda3"
    assert {p.path_type for p in info.paths} == {PathType.HARDLINK}
    unpacked = extract(archive, tmp_path / "out")
    assert unpacked.info.paths[1] == PathEntry("lib/libdemo.so.1", PathType.SOFTLINK)


def test_old_conda_package_handling_puts_licenses_in_the_payload(tmp_path: Path) -> None:
    package = Package()
    info = [m for m in package.info() if not m.name.startswith("info/licenses/")]
    archive = write_conda(
        tmp_path / f"{DIST}.conda",
        tar_bytes(info),
        tar_bytes([*package.payload, M("info/licenses/COPYING", b"GPL")]),
    )
    assert read_info(archive).license_files == ()
    assert extract(archive, tmp_path / "out").info.license_files == ("COPYING",)


# -- hostile members ---------------------------------------------------------------------------

HOSTILE = {
    "absolute": ([M("/etc/evil", b"x")], "/etc/evil", "it is an absolute path"),
    "dotdot": ([M("lib/../../evil", b"x")], "lib/../../evil", "it has a '..' component"),
    "symlink-out": (
        [M("lib/out", kind="symlink", target="../../etc")],
        "lib/out",
        "it is a symbolic link to '../../etc', outside the package",
    ),
    "symlink-absolute": (
        [M("lib/pw", kind="symlink", target="/etc/passwd")],
        "lib/pw",
        "it is a symbolic link to '/etc/passwd', outside the package",
    ),
    "symlink-chain": (
        # a/e resolves inside until a/d exists; a/d itself points inside (to the package root).
        [M("a/e", kind="symlink", target="d/../.."), M("a/d", kind="symlink", target="..")],
        "a/e",
        "it is a symbolic link to 'd/../..', outside the package",
    ),
    "hardlink-out": (
        [M("lib/h", kind="hardlink", target="../outside")],
        "lib/h",
        "it is a hard link to '../outside', outside the package",
    ),
    "hardlink-ahead": (
        [M("lib/h", kind="hardlink", target="lib/later"), M("lib/later", b"x")],
        "lib/h",
        "it is a hard link to 'lib/later', which is not an earlier file of the archive",
    ),
    "fifo": ([M("lib/pipe", kind="fifo")], "lib/pipe", "it is a FIFO"),
    "device": ([M("dev/null", kind="chr")], "dev/null", "it is a character device"),
    "dir-then-link": (
        [M("lib/sub", kind="dir"), M("lib/sub", kind="symlink", target=".")],
        "lib/sub",
        "it would turn the folder 'lib/sub' into a symbolic link",
    ),
    "implicit-dir-then-file": (
        [M("lib/sub/a", b"x"), M("lib/sub", b"x")],
        "lib/sub",
        "it would turn the folder 'lib/sub' into a file",
    ),
    "through-symlink": (
        [M("lib/real", kind="dir"), M("lib/l", kind="symlink", target="real"), M("lib/l/x")],
        "lib/l/x",
        "it would be written through the symbolic link 'lib/l'",
    ),
    "under-a-file": (
        [M("lib/f", b"x"), M("lib/f/x", b"y")],
        "lib/f/x",
        "its folder 'lib/f' is a file",
    ),
    "duplicate": ([M("lib/a", b"x"), M("lib/a", b"y")], "lib/a", "it appears twice in the archive"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_members_are_refused(tmp_path: Path, fmt: str, case: str) -> None:
    members, member, reason = HOSTILE[case]
    archive = build(Package(payload=[M("lib/ok", b"ok"), *members], paths=[]), tmp_path, fmt)
    with pytest.raises(ArchiveError) as exc:
        extract(archive, tmp_path / "out")
    assert_error(
        exc, ArchiveError, f"{archive.name}: refusing member {member!r}: {reason}", UNSAFE_HINT
    )
    assert exc.value.path == member
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name]


def test_the_sweep_resolves_a_link_as_the_archive_gave_it(tmp_path: Path) -> None:
    # What tarfile's data filter of the June 2025 releases leaves of the symlink chain above:
    # a/e written as '..' (its target normalized), which stays inside, though 'd/../..' does not.
    from condapress.unpack._guard import Guard

    guard = Guard("demo-1.0-h0_0.conda", tmp_path)
    for name, target in (("a/e", "d/../.."), ("a/d", "..")):
        member = tarfile.TarInfo(name)
        member.type, member.linkname = tarfile.SYMTYPE, target
        guard.check(member)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "d").symlink_to("..")
    (tmp_path / "a" / "e").symlink_to("..")
    with pytest.raises(ArchiveError) as exc:
        guard.sweep_symlinks()
    assert_error(
        exc,
        ArchiveError,
        "demo-1.0-h0_0.conda: refusing member 'a/e': it is a symbolic link to 'd/../..', outside"
        " the package",
        UNSAFE_HINT,
    )


def test_an_empty_symlink_target_is_refused(tmp_path: Path) -> None:
    archive = Package(payload=[M("lib/libz.so", kind="symlink")]).conda(tmp_path)
    with pytest.raises(ArchiveError) as exc:
        extract(archive, tmp_path / "out")
    assert_error(
        exc,
        ArchiveError,
        f"{DIST}.conda: refusing member 'lib/libz.so': it is a symbolic link with an empty target",
        "the archive was damaged when it was re-packed; download the original again",
    )


def test_a_failure_keeps_an_existing_empty_destination_empty(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    archive = Package(payload=[M("lib/a", b"x"), M("lib/a", b"y")], paths=[]).conda(tmp_path)
    with pytest.raises(ArchiveError):
        extract(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("component", "member", "reason"),
    [
        ("info", "lib/x", f"only info/ belongs in info-{DIST}.tar.zst"),
        ("pkg", "info/index.json", f"package metadata does not belong in pkg-{DIST}.tar.zst"),
    ],
)
def test_inner_tarballs_that_lie_about_their_names(
    tmp_path: Path, component: str, member: str, reason: str
) -> None:
    package = Package()
    info, pkg = package.info(), package.payload
    if component == "info":
        info = [*info, M(member, b"x")]
    else:
        pkg = [M(member, b"{}"), *pkg]
    archive = write_conda(tmp_path / f"{DIST}.conda", tar_bytes(info), tar_bytes(pkg))
    reader = read_info if component == "info" else read_python_metadata
    for run in (reader, lambda a: extract(a, tmp_path / "out")):
        with pytest.raises(ArchiveError) as exc:
            run(archive)
        message = f"{DIST}.conda: refusing member {member!r}: {reason}"
        assert_error(exc, ArchiveError, message, UNSAFE_HINT)
        assert not (tmp_path / "out").exists()


# -- payload against paths.json ----------------------------------------------------------------


def paths_with(**change: object) -> list[dict[str, object]]:
    entries = Package().computed_paths()
    entries[0] = {**entries[0], **change}
    return entries


@pytest.mark.parametrize(
    ("paths", "problem"),
    [
        (paths_with(sha256="f" * 64), f"lib/libdemo.so.1.0 has sha256 {sha(LIB)}, not {'f' * 64}"),
        (paths_with(size_in_bytes=3), f"lib/libdemo.so.1.0 is {len(LIB)} bytes, not 3"),
        (
            [*Package().computed_paths(), {"_path": "lib/gone", "path_type": "hardlink"}],
            "lib/gone is missing",
        ),
        (Package().computed_paths()[1:], "lib/libdemo.so.1.0 is not listed"),
        (paths_with(path_type="softlink"), "lib/libdemo.so.1.0 is a file, not a symbolic link"),
    ],
    ids=["sha256", "size", "missing", "unlisted", "kind"],
)
def test_payload_must_match_paths_json(
    tmp_path: Path, fmt: str, paths: list[dict[str, object]], problem: str
) -> None:
    archive = build(Package(paths=paths), tmp_path, fmt)
    with pytest.raises(ArchiveError) as exc:
        extract(archive, tmp_path / "out")
    message = f"{archive.name} does not match its paths.json: {problem}"
    assert_error(exc, ArchiveError, message, MISMATCH_HINT)
    assert not (tmp_path / "out").exists()


def test_softlink_targets_are_verified(tmp_path: Path) -> None:
    paths = Package().computed_paths()
    paths[1] = {**paths[1], "sha256": "0" * 64}
    with pytest.raises(ArchiveError) as exc:
        extract(Package(paths=paths).conda(tmp_path), tmp_path / "out")
    message = (
        f"{DIST}.conda does not match its paths.json: "
        f"lib/libdemo.so.1 has sha256 {sha(LIB)}, not {'0' * 64}"
    )
    assert_error(exc, ArchiveError, message, MISMATCH_HINT)


EMPTY_SHA256 = sha(b"")
#: A library, two links to it, and a link to a folder.
LINKS = [
    M("lib/libdemo.so.1.0", LIB),
    M("lib/libdemo.so.1", kind="symlink", target="libdemo.so.1.0"),
    M("lib/libdemo.so", kind="symlink", target="libdemo.so.1"),
    M("share/demo/data.txt", b"data"),
    M("share/demo-data", kind="symlink", target="demo"),
]


def link_entries(
    chain: tuple[str | None, int | None], folder: tuple[str | None, int | None]
) -> list[dict[str, object]]:
    """paths.json for LINKS, with the sha256 and size each link entry is given."""
    entries: list[dict[str, object]] = [
        {
            "_path": "lib/libdemo.so.1.0",
            "path_type": "hardlink",
            "sha256": sha(LIB),
            "size_in_bytes": len(LIB),
        },
        {
            "_path": "share/demo/data.txt",
            "path_type": "hardlink",
            "sha256": sha(b"data"),
            "size_in_bytes": 4,
        },
    ]
    for path, (digest, size) in (
        ("lib/libdemo.so.1", chain),
        ("lib/libdemo.so", chain),
        ("share/demo-data", folder),
    ):
        entries.append(
            {"_path": path, "path_type": "softlink", "sha256": digest, "size_in_bytes": size}
        )
    return entries


@pytest.mark.parametrize(
    ("chain", "folder"),
    [
        # conda-build since 2021: the target file's sha256 and size; a folder's: empty, 0
        ((sha(LIB), len(LIB)), (EMPTY_SHA256, 0)),
        # rattler-build: the target file's sha256, the length of the link's own text
        ((sha(LIB), len("libdemo.so.1.0")), (EMPTY_SHA256, len("demo"))),
        # conda-build before 2020: nothing for a link to a folder, whose size was the folder's
        ((sha(LIB), len(LIB)), (None, 4096)),
        # the first rattler-build: nothing at all
        ((None, None), (None, None)),
    ],
    ids=["conda-build", "rattler-build", "old-conda-build", "no-numbers"],
)
def test_softlinks_as_each_builder_records_them(
    tmp_path: Path,
    fmt: str,
    chain: tuple[str | None, int | None],
    folder: tuple[str | None, int | None],
) -> None:
    paths = link_entries(chain, folder)
    # rattler-build's text length differs per link: libdemo.so -> libdemo.so.1 is 12 bytes.
    if chain[1] == len("libdemo.so.1.0"):
        paths[3]["size_in_bytes"] = len("libdemo.so.1")
    archive = build(Package(payload=LINKS, paths=paths), tmp_path, fmt)
    unpacked = extract(archive, tmp_path / "out")
    assert (unpacked.root / "lib/libdemo.so").read_bytes() == LIB


def test_a_link_to_a_file_of_another_package_is_not_checked(tmp_path: Path) -> None:
    # conda-build hashes what the link reaches in the build prefix: another package's file.
    payload = [M("lib/libtinfo.so", kind="symlink", target="libncurses.so.6")]
    paths = [
        {
            "_path": "lib/libtinfo.so",
            "path_type": "softlink",
            "sha256": "a" * 64,
            "size_in_bytes": 9,
        }
    ]
    unpacked = extract(Package(payload=payload, paths=paths).conda(tmp_path), tmp_path / "out")
    assert (unpacked.root / "lib/libtinfo.so").is_symlink()


@pytest.mark.realworld
def test_a_real_rattler_build_package_with_links(realworld: Path, tmp_path: Path) -> None:
    archive = realworld / "more" / "libedit-3.1.20240808-pl5321h7949ede_0.conda"
    unpacked = extract(archive, tmp_path / "out")
    link = next(p for p in unpacked.info.paths if p.path == "lib/libedit.so.0")
    assert link.size == len("libedit.so.0.0.74")  # the link's text, not the library's size
    assert link.sha256 == sha((unpacked.root / "lib/libedit.so.0.0.74").read_bytes())


def test_a_changed_file_is_refused_whatever_its_links_say(tmp_path: Path) -> None:
    # Both link entries as rattler-build writes them; the library itself was changed.
    paths = link_entries((sha(LIB), len("libdemo.so.1.0")), (EMPTY_SHA256, len("demo")))
    paths[0] = {**paths[0], "sha256": sha(b"the original"), "size_in_bytes": len(LIB)}
    with pytest.raises(ArchiveError) as exc:
        extract(Package(payload=LINKS, paths=paths).conda(tmp_path), tmp_path / "out")
    message = (
        f"{DIST}.conda does not match its paths.json: "
        f"lib/libdemo.so.1.0 has sha256 {sha(LIB)}, not {sha(b'the original')}"
    )
    assert_error(exc, ArchiveError, message, MISMATCH_HINT)


def test_a_link_whose_size_fits_no_builder_is_refused(tmp_path: Path) -> None:
    paths = link_entries((sha(LIB), 5), (EMPTY_SHA256, 0))
    with pytest.raises(ArchiveError) as exc:
        extract(Package(payload=LINKS, paths=paths).conda(tmp_path), tmp_path / "out")
    message = (
        f"{DIST}.conda does not match its paths.json: lib/libdemo.so.1 is a link of 14 bytes to a"
        f" file of {len(LIB)} bytes, not 5"
    )
    assert_error(exc, ArchiveError, message, MISMATCH_HINT)
    assert not (tmp_path / "out").exists()


# -- files listed without a sha256 -------------------------------------------------------------


def test_files_without_a_sha256_are_counted_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = Package().computed_paths()
    for entry in paths[2:]:  # the two python files
        del entry["sha256"]
    extract(Package(paths=paths).conda(tmp_path), tmp_path / "out")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            (
                f"{DIST}.conda: 2 of its 3 files have no sha256 in paths.json, so their content"
                " could not be verified (first: 'site-packages/demo/__init__.py')"
            ),
        )
    ]


def test_a_file_without_a_sha256_is_checked_through_its_link(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = Package().computed_paths()
    del paths[0]["sha256"], paths[0]["size_in_bytes"]  # the library; its link keeps the sha256
    extract(Package(paths=paths).conda(tmp_path), tmp_path / "out")
    assert not caplog.records
    paths[1]["sha256"] = sha(b"the original")
    with pytest.raises(ArchiveError) as exc:
        extract(Package(paths=paths).conda(tmp_path), tmp_path / "out2")
    message = (
        f"{DIST}.conda does not match its paths.json: "
        f"lib/libdemo.so.1 has sha256 {sha(LIB)}, not {sha(b'the original')}"
    )
    assert_error(exc, ArchiveError, message, MISMATCH_HINT)


def test_a_file_without_a_sha256_still_has_its_size_checked(tmp_path: Path) -> None:
    paths = paths_with(size_in_bytes=3)
    del paths[0]["sha256"], paths[1]["sha256"]
    with pytest.raises(ArchiveError) as exc:
        extract(Package(paths=paths).conda(tmp_path), tmp_path / "out")
    message = (
        f"{DIST}.conda does not match its paths.json: lib/libdemo.so.1.0 is {len(LIB)} bytes, not 3"
    )
    assert_error(exc, ArchiveError, message, MISMATCH_HINT)


def test_an_old_package_warns_that_nothing_was_verified(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extract(Package(legacy=True).tar_bz2(tmp_path), tmp_path / "out")
    assert [r.getMessage() for r in caplog.records] == [
        f"{DIST}.tar.bz2 predates paths.json: the content of its 3 files could not be verified"
    ]


# -- metadata ----------------------------------------------------------------------------------


def test_unsafe_names_are_refused(tmp_path: Path) -> None:
    package = Package(index=index(name="../evil", version="1/2", build="h\x00"))
    with pytest.raises(MetadataError) as exc:
        read_info(package.conda(tmp_path))
    unsafe = (
        " is not safe in a file name (empty, or contains '/', '\\', '..' or a control character)"
    )
    message = (
        f"{DIST}.conda has invalid metadata: info/index.json: name '../evil'{unsafe}; "
        f"info/index.json: version '1/2'{unsafe}; info/index.json: build 'h\\x00'{unsafe}"
    )
    assert_error(exc, MetadataError, message, METADATA_HINT)


def test_malformed_json(tmp_path: Path, fmt: str) -> None:
    # The broken link.json comes after the good one and replaces it (read_info keeps the last).
    archive = build(Package(extra_info=[M("info/link.json", b"{")]), tmp_path, fmt)
    with pytest.raises(MetadataError) as exc:
        read_info(archive)
    message = (
        f"{archive.name} has invalid metadata: info/link.json is not valid JSON"
        " (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    )
    assert_error(exc, MetadataError, message, METADATA_HINT)


def test_several_problems_make_one_error(tmp_path: Path, fmt: str) -> None:
    paths = Package().computed_paths()
    paths[0] = {**paths[0], "path_type": "weird"}
    paths[1] = {**paths[1], "sha256": "xyz", "_path": "/abs"}
    paths[2] = {**paths[2], "size_in_bytes": -1, "file_mode": "octal"}
    bad_index = index(build_number="7", depends="zlib", noarch="perl")
    del bad_index["version"]
    archive = build(Package(index=bad_index, paths=paths), tmp_path, fmt)
    with pytest.raises(MetadataError) as exc:
        extract(archive, tmp_path / "out")
    problems = [
        "info/index.json: 'version' is missing",
        "info/index.json: noarch 'perl' is not known",
        "info/index.json: 'build_number' must be an integer, not '7'",
        "info/index.json: 'depends' must be a list of strings",
        "info/paths.json: 'lib/libdemo.so.1.0': path_type 'weird' is not known",
        "info/paths.json: paths[1]: '_path' '/abs' is not a relative path inside the package",
        "info/paths.json: 'site-packages/demo/__init__.py': size_in_bytes -1 is not a byte count",
        (
            "info/paths.json: 'site-packages/demo/__init__.py':"
            " file_mode 'octal' is not 'text' or 'binary'"
        ),
    ]
    message = f"{archive.name} has invalid metadata: " + "; ".join(problems)
    assert_error(exc, MetadataError, message, METADATA_HINT)
    assert exc.value.detail == "\n".join(problems)
    assert not (tmp_path / "out").exists()


def test_more_than_ten_problems_name_ten_and_count_the_rest(tmp_path: Path) -> None:
    paths = Package().computed_paths()
    paths += [{**paths[0], "_path": f"lib/odd{i:02}", "path_type": "weird"} for i in range(12)]
    archive = build(Package(paths=paths), tmp_path, "conda")
    with pytest.raises(MetadataError) as exc:
        extract(archive, tmp_path / "out")
    problems = [
        f"info/paths.json: 'lib/odd{i:02}': path_type 'weird' is not known" for i in range(12)
    ]
    message = f"{archive.name} has invalid metadata: {'; '.join(problems[:10])}; ... and 2 more"
    assert_error(exc, MetadataError, message, METADATA_HINT)
    assert exc.value.detail == "\n".join(problems)


def test_a_path_with_a_control_character_is_refused(tmp_path: Path, fmt: str) -> None:
    paths = Package().computed_paths()
    paths[1] = {**paths[1], "_path": "lib/evil\x1b[2Jname"}
    archive = build(Package(paths=paths), tmp_path, fmt)
    with pytest.raises(MetadataError) as exc:
        extract(archive, tmp_path / "out")
    problem = "info/paths.json: paths[1]: '_path' 'lib/evil\\x1b[2Jname' holds a control character"
    assert_error(
        exc, MetadataError, f"{archive.name} has invalid metadata: {problem}", METADATA_HINT
    )
    assert not (tmp_path / "out").exists()


def test_an_unlisted_member_is_named_printably(tmp_path: Path, fmt: str) -> None:
    listed = Package().computed_paths()
    payload = [*Package().payload, M("lib/odd\x01name", b"x")]
    archive = build(Package(payload=payload, paths=listed), tmp_path, fmt)
    with pytest.raises(ArchiveError) as exc:
        extract(archive, tmp_path / "out")
    message = f"{archive.name} does not match its paths.json: lib/odd\\x01name is not listed"
    assert_error(exc, ArchiveError, message, MISMATCH_HINT)
    assert not (tmp_path / "out").exists()


def test_missing_index_json(tmp_path: Path) -> None:
    package = Package()
    info = [m for m in package.info() if m.name != "info/index.json"]
    archive = write_conda(tmp_path / f"{DIST}.conda", tar_bytes(info), tar_bytes(package.payload))
    with pytest.raises(MetadataError) as exc:
        read_info(archive)
    message = (
        f"{DIST}.conda has invalid metadata: info/index.json is missing; "
        "info/index.json: 'name' is missing; info/index.json: 'version' is missing; "
        "info/index.json: 'build' is missing; "
        "info/index.json: 'build_number' must be an integer, not None; "
        "info/index.json: 'subdir' is missing"
    )
    assert_error(exc, MetadataError, message, METADATA_HINT)


@pytest.mark.parametrize(
    ("name", "version", "build_string"),
    [("other", "1.0", "h0_0"), ("demo", "1.1", "h0_0"), ("demo", "1.0", "h1_0")],
    ids=["name", "version", "build"],
)
def test_index_json_must_name_the_package_of_the_record(
    tmp_path: Path, fmt: str, name: str, version: str, build_string: str
) -> None:
    archive = build(Package(), tmp_path, fmt)
    record = record_for(archive, archive.as_uri())
    assert read_info(archive, record=record).record.name == "demo"
    listed = dataclasses.replace(record, name=name, version=version, build=build_string)
    for run in (
        lambda: read_info(archive, record=listed),
        lambda: extract(archive, tmp_path / "out", record=listed),
    ):
        with pytest.raises(ArchiveError) as exc:
            run()
        message = (
            f"{archive.name} is not the package its channel lists: its index.json names demo 1.0"
            f" h0_0, the channel {listed.name} {listed.version} {listed.build}"
        )
        hint = (
            "the channel's index does not describe this archive; re-index the channel, or report"
            " it to the channel it came from"
        )
        assert_error(exc, ArchiveError, message, hint)
        assert not (tmp_path / "out").exists()


def test_package_names_are_compared_without_case(tmp_path: Path) -> None:
    # py-rattler normalizes names to lower case; an old index.json may not have.
    archive = Package(index=index(name="Demo")).conda(tmp_path)
    record = record_for(archive, archive.as_uri())
    assert record.name == "demo"
    assert read_info(archive, record=record).record.name == "Demo"


# -- damaged and mislabelled archives ----------------------------------------------------------


def conda_problem(name: str, problem: str) -> str:
    return f"{name} is not a .conda archive: {problem}"


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_corrupt_zstd(tmp_path: Path) -> None:
    package = Package()
    garbage = b"\x28\xb5\x2f\xfd" + b"\xff" * 64
    archive = write_conda(
        tmp_path / f"{DIST}.conda", tar_bytes(package.info()), b"", raw_pkg=garbage
    )
    assert read_info(archive).record.name == "demo"  # info/ is intact
    with pytest.raises(ArchiveError) as exc:
        extract(archive, tmp_path / "out")
    message = (
        f"{DIST}.conda is damaged: the zstd data is corrupt in pkg-{DIST}.tar.zst"
        " (before its first member)"
    )
    assert_error(exc, ArchiveError, message, DEFAULT_HINT)
    assert isinstance(exc.value.__cause__, Exception)
    assert not (tmp_path / "out").exists()


def test_truncated_tar_bz2(tmp_path: Path) -> None:
    archive = Package().tar_bz2(tmp_path)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    for run in (read_info, lambda a: extract(a, tmp_path / "out")):
        with pytest.raises(ArchiveError) as exc:
            run(archive)
        message = (
            f"{DIST}.tar.bz2 is damaged: the data ends early in the bzip2 stream"
            " (before its first member)"
        )
        assert_error(exc, ArchiveError, message, DEFAULT_HINT)
        assert not (tmp_path / "out").exists()


def test_truncated_conda(tmp_path: Path) -> None:
    archive = Package().conda(tmp_path)
    archive.write_bytes(archive.read_bytes()[:-100])
    with pytest.raises(ArchiveError) as exc:
        extract(archive, tmp_path / "out")
    message = conda_problem(archive.name, "it is not a zip file (or it is truncated)")
    assert_error(exc, ArchiveError, message, DEFAULT_HINT)
    assert not (tmp_path / "out").exists()


def test_corrupt_bzip2(tmp_path: Path) -> None:
    archive = tmp_path / f"{DIST}.tar.bz2"
    archive.write_bytes(b"BZh9" + b"\x00" * 200)
    with pytest.raises(ArchiveError) as exc:
        read_info(archive)
    message = (
        f"{DIST}.tar.bz2 is damaged: the bzip2 data is corrupt in the bzip2 stream"
        " (before its first member)"
    )
    assert_error(exc, ArchiveError, message, DEFAULT_HINT)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (gzip.compress(b"tar"), "it holds gzip data"),
        (b"\x28\xb5\x2f\xfd....", "it holds zstd data"),
        (b"hello", "it holds unknown data"),
        (b"", "it is empty"),
    ],
)
def test_not_bzip2(tmp_path: Path, content: bytes, problem: str) -> None:
    archive = tmp_path / f"{DIST}.tar.bz2"
    archive.write_bytes(content)
    with pytest.raises(ArchiveError) as exc:
        extract(archive, tmp_path / "out")
    assert_error(
        exc,
        ArchiveError,
        f"{DIST}.tar.bz2 is not a bzip2 archive: {problem}",
        "a .tar.bz2 conda package must be bzip2-compressed; rebuild it with conda-build",
    )
    assert not (tmp_path / "out").exists()


def test_not_a_zip(tmp_path: Path) -> None:
    archive = tmp_path / f"{DIST}.conda"
    archive.write_bytes(b"just some text, not a zip file")
    with pytest.raises(ArchiveError) as exc:
        read_info(archive)
    message = conda_problem(archive.name, "it is not a zip file (or it is truncated)")
    assert_error(exc, ArchiveError, message, DEFAULT_HINT)
    assert isinstance(exc.value.__cause__, zipfile.BadZipFile)


METADATA_JSON = b'{"conda_pkg_format_version": 2}'
ZST = zstandard.ZstdCompressor().compress(tar_bytes([]))


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ({"metadata.json": METADATA_JSON, f"info-{DIST}.tar.zst": ZST}, "it has no pkg-*.tar.zst"),
        (
            {
                "metadata.json": METADATA_JSON,
                f"info-{DIST}.tar.zst": ZST,
                "info-other-1-0.tar.zst": ZST,
                f"pkg-{DIST}.tar.zst": ZST,
            },
            "it has 2 info-*.tar.zst members",
        ),
        (
            {
                "metadata.json": METADATA_JSON,
                f"info-{DIST}.tar.zst": ZST,
                f"pkg-{DIST}.tar.zst": ZST,
                "extra.txt": b"",
            },
            "it holds the unexpected member 'extra.txt'",
        ),
        (
            {
                "metadata.json": METADATA_JSON,
                f"info-{DIST}.tar.zst": ZST,
                "pkg-other-1-0.tar.zst": ZST,
            },
            f"info-{DIST}.tar.zst and pkg-other-1-0.tar.zst belong to different packages",
        ),
    ],
    ids=["no-pkg", "two-info", "extra", "different"],
)
def test_malformed_conda_zip(tmp_path: Path, members: dict[str, bytes], problem: str) -> None:
    archive = zip_of(tmp_path / f"{DIST}.conda", members)
    with pytest.raises(ArchiveError) as exc:
        read_info(archive)
    assert_error(exc, ArchiveError, conda_problem(archive.name, problem), DEFAULT_HINT)


@pytest.mark.parametrize(
    "metadata",
    [
        b"",  # anaconda's defaults builds of 2019-2021
        None,
        b"{}",
        b'{"conda_pkg_format_version": "2"}',
        b"not json",
        b"[3]",
        b'{"conda_pkg_format_version": 3, "pad": "' + b"x" * (64 << 10) + b'"}',
    ],
    ids=["empty", "absent", "no-version", "string-2", "not-json", "not-an-object", "oversized"],
)
def test_metadata_json_that_conda_ignores_is_accepted(
    tmp_path: Path, metadata: bytes | None
) -> None:
    # conda-package-streaming, conda-package-handling and rattler never read metadata.json.
    archive = Package().conda(tmp_path, metadata=metadata)
    assert read_info(archive).record.name == "demo"
    assert extract(archive, tmp_path / "out").info.record.name == "demo"


@pytest.mark.parametrize(
    ("metadata", "shown"),
    [(b'{"conda_pkg_format_version": 3}', "3"), (b'{"conda_pkg_format_version": null}', "None")],
)
def test_metadata_json_that_declares_another_format_is_refused(
    tmp_path: Path, metadata: bytes, shown: str
) -> None:
    archive = Package().conda(tmp_path, metadata=metadata)
    for run in (read_info, lambda a: extract(a, tmp_path / "out")):
        with pytest.raises(ArchiveError) as exc:
            run(archive)
        assert_error(
            exc,
            ArchiveError,
            conda_problem(
                archive.name, f"metadata.json declares conda_pkg_format_version {shown}, not 2"
            ),
            "condapress reads .conda format 2 only; use the package's .tar.bz2 instead",
        )
    assert not (tmp_path / "out").exists()


@pytest.mark.realworld
@pytest.mark.parametrize("name", ["lzo-2.10-h7b6447c_2.conda", "yaml-0.2.5-h7b6447c_0.conda"])
def test_real_archives_with_an_empty_metadata_json(
    realworld: Path, tmp_path: Path, name: str
) -> None:
    archive = realworld / "more" / name
    with zipfile.ZipFile(archive) as zf:
        assert zf.read("metadata.json") == b""
    package = extract(archive, tmp_path / "out")
    assert package.info.record.dist == name.removesuffix(".conda")
    assert any(p.path.startswith("lib/lib") for p in package.info.paths)


def test_members_nested_under_a_folder(tmp_path: Path) -> None:
    folder = "Users/someone/Downloads/demo"
    archive = zip_of(
        tmp_path / f"{DIST}.conda",
        {f"{folder}/": b"", f"{folder}/metadata.json": METADATA_JSON, f"{folder}/x.tar.zst": ZST},
    )
    with pytest.raises(ArchiveError) as exc:
        read_info(archive)
    assert_error(
        exc,
        ArchiveError,
        conda_problem(archive.name, f"its members are nested under the folder '{folder}/'"),
        "the archive was damaged when it was re-packed; download the original again",
    )


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError) as exc:
        read_info(zip_of(tmp_path / "demo.zip", {}))
    message = "demo.zip is not a conda package: its name does not end in .conda or .tar.bz2"
    assert_error(exc, ArchiveError, message, "pass a .conda or .tar.bz2 file")
    with pytest.raises(ArchiveError) as exc:
        read_info(tmp_path / "gone.conda")
    message = "cannot open gone.conda: No such file or directory"
    assert_error(
        exc, ArchiveError, message, f"check that {tmp_path / 'gone.conda'} exists and is readable"
    )


# -- fetch -------------------------------------------------------------------------------------


def record_for(archive: Path, location: str, **changes: object) -> CondaRecord:
    """The record a channel lists for *archive* at *location*; *changes* spoil it."""
    data = archive.read_bytes()
    fields: dict[str, Any] = {
        "sha256": sha(data),
        "size": len(data),
        "url": location,
        "file_name": archive.name,
    }
    return record("demo", **(fields | changes))


def test_fetch_a_local_file_in_place(tmp_path: Path) -> None:
    archive = Package().conda(tmp_path)
    assert fetch(record_for(archive, archive.as_uri()), tmp_path / "cache") == archive
    assert fetch(record_for(archive, str(archive)), tmp_path / "cache") == archive
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["verified"]  # no copy


def test_a_verified_file_is_not_hashed_again_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real_hash = vars(_fetch)["stream_digest"]  # counted, not replaced

    def counting(stream: IO[bytes], algorithm: str = "sha256") -> tuple[str, int]:
        hashed.append(algorithm)
        digest: tuple[str, int] = real_hash(stream, algorithm)
        return digest

    monkeypatch.setattr(_fetch, "stream_digest", counting)
    archive = Package().conda(tmp_path)
    record = record_for(archive, archive.as_uri())
    for _ in range(3):
        assert fetch(record, tmp_path / "cache") == archive
    assert hashed == ["sha256"]
    # The same size and mtime, other bytes: the inode's ctime moved, so it is hashed again.
    data, st = bytearray(archive.read_bytes()), archive.stat()
    data[-30] ^= 0xFF
    archive.write_bytes(bytes(data))
    os.utime(archive, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(ArchiveError) as exc:
        fetch(record, tmp_path / "cache")
    assert str(exc.value).startswith(f"sha256 mismatch for {DIST}.conda: expected {record.sha256}")
    assert hashed == ["sha256", "sha256"]


def test_a_verdict_for_another_digest_or_file_does_not_count(tmp_path: Path) -> None:
    archive = Package().conda(tmp_path)
    fetch(record_for(archive, archive.as_uri()), tmp_path / "cache")
    with pytest.raises(ArchiveError):
        fetch(record_for(archive, archive.as_uri(), sha256="c" * 64), tmp_path / "cache")
    # A verdict file copied onto another archive's key names the other path: not trusted.
    other = Package(index=index(version="2.0")).conda(tmp_path, "demo-2.0-h0_0.conda")
    [verdict] = (tmp_path / "cache" / "verified").iterdir()
    record = record_for(other, other.as_uri(), sha256=sha(archive.read_bytes()))
    shutil.copy(verdict, _verdicts.verdict_file(tmp_path / "cache" / "verified", other))
    with pytest.raises(ArchiveError) as exc:
        fetch(record, tmp_path / "cache")
    assert str(exc.value) == (
        f"sha256 mismatch for demo-2.0-h0_0.conda: expected {sha(archive.read_bytes())},"
        f" got {sha(other.read_bytes())}"
    )


def test_fetch_a_local_file_with_a_wrong_sha256(tmp_path: Path) -> None:
    archive = Package().conda(tmp_path)
    with pytest.raises(ArchiveError) as exc:
        fetch(record_for(archive, archive.as_uri(), sha256="a" * 64), tmp_path / "cache")
    message = (
        f"sha256 mismatch for {DIST}.conda: expected {'a' * 64}, got {sha(archive.read_bytes())}"
    )
    hint = "the file is not the one the channel lists; re-index the channel or fetch it again"
    assert_error(exc, ArchiveError, message, hint)
    assert archive.exists()  # not ours to delete


def test_fetch_checks_size_and_md5(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    archive = Package().conda(tmp_path)
    size = archive.stat().st_size
    with pytest.raises(ArchiveError) as exc:
        fetch(record_for(archive, archive.as_uri(), size=size + 1), tmp_path)
    assert (
        str(exc.value) == f"size mismatch for {DIST}.conda: expected {size + 1} bytes, got {size}"
    )
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()  # noqa: S324 - what old repodata has
    assert fetch(record_for(archive, archive.as_uri(), sha256=None, md5=md5), tmp_path) == archive
    with pytest.raises(ArchiveError) as exc:
        fetch(record_for(archive, archive.as_uri(), sha256=None, md5="b" * 32), tmp_path)
    assert str(exc.value) == f"md5 mismatch for {DIST}.conda: expected {'b' * 32}, got {md5}"
    with caplog.at_level(logging.WARNING, logger="condapress.unpack"):
        fetch(record_for(archive, archive.as_uri(), sha256=None), tmp_path)
    assert caplog.messages == [
        f"{DIST}.conda has no sha256 or md5 in its record: it is used unverified"
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"url": ""}, f"cannot fetch {DIST}: its record has no URL"),
        (
            {"url": "ftp://host/x.conda"},
            f"cannot fetch {DIST}: unsupported URL scheme 'ftp' in ftp://host/x.conda",
        ),
        (
            {"file_name": "../x.conda"},
            f"cannot fetch {DIST}: '../x.conda' is not a conda archive file name",
        ),
        ({"sha256": "../../x"}, f"cannot fetch {DIST}: '../../x' is not a sha256 digest"),
    ],
)
def test_fetch_refuses_bad_records(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    archive = Package().conda(tmp_path)
    with pytest.raises(ChannelError) as exc:
        fetch(record_for(archive, archive.as_uri(), **changes), tmp_path)
    assert type(exc.value) is ChannelError
    assert str(exc.value) == message


def test_fetch_a_missing_local_file(tmp_path: Path) -> None:
    archive = Package().conda(tmp_path)
    record = record_for(archive, (tmp_path / "gone.conda").as_uri(), file_name="gone.conda")
    with pytest.raises(ChannelError) as exc:
        fetch(record, tmp_path)
    assert_error(
        exc,
        ChannelError,
        f"cannot fetch gone.conda: {tmp_path / 'gone.conda'} does not exist",
        "check the local channel folder; re-index it if files were moved",
    )


class _Handler(http.server.BaseHTTPRequestHandler):
    body: ClassVar[bytes] = b""
    #: status codes to answer with before serving the body; 200 once they are used up.
    failures: ClassVar[list[int]] = []
    requests: ClassVar[int] = 0
    #: seconds between two bytes of the body; 0 sends it at once.
    pause: ClassVar[float] = 0.0

    def do_GET(self) -> None:
        type(self).requests += 1
        if self.failures:
            self.send_error(self.failures.pop(0))
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if not self.pause:
            self.wfile.write(self.body)
            return
        with contextlib.suppress(ConnectionError):  # the client gave up
            for index in range(len(self.body)):
                self.wfile.write(self.body[index : index + 1])
                self.wfile.flush()
                time.sleep(self.pause)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    _Handler.failures = []
    _Handler.requests = 0
    _Handler.pause = 0.0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    # shutdown() waits for the loop's next poll: a short one ends each test sooner
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def cache_files(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "pkgs").iterdir())


def test_fetch_downloads_into_the_cache(tmp_path: Path, server: str) -> None:
    archive = Package().conda(tmp_path)
    _Handler.body = archive.read_bytes()
    record = record_for(archive, f"{server}/{archive.name}")
    cache = tmp_path / "cache"
    path = fetch(record, cache)
    assert path == cache / "pkgs" / f"{record.sha256}-{archive.name}"
    assert path.read_bytes() == archive.read_bytes()
    assert fetch(record, cache) == path
    assert _Handler.requests == 1
    assert cache_files(cache) == [path.name]


def test_fetch_replaces_a_truncated_cached_file(tmp_path: Path, server: str) -> None:
    archive = Package().conda(tmp_path)
    _Handler.body = archive.read_bytes()
    record = record_for(archive, f"{server}/{archive.name}")
    cached = tmp_path / "cache" / "pkgs" / f"{record.sha256}-{archive.name}"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(archive.read_bytes()[:100])
    assert fetch(record, tmp_path / "cache") == cached
    assert cached.read_bytes() == archive.read_bytes()
    assert _Handler.requests == 1


def test_fetch_retries_server_errors(tmp_path: Path, server: str) -> None:
    archive = Package().conda(tmp_path)
    _Handler.body = archive.read_bytes()
    _Handler.failures = [500, 503]
    path = fetch(record_for(archive, f"{server}/{archive.name}"), tmp_path, backoff=0.001)
    assert path.read_bytes() == archive.read_bytes()
    assert _Handler.requests == 3


def test_fetch_gives_up_after_the_last_try(tmp_path: Path, server: str) -> None:
    archive = Package().conda(tmp_path)
    _Handler.failures = [500] * 5
    url = f"{server}/{archive.name}"
    with pytest.raises(ChannelError) as exc:
        fetch(record_for(archive, url), tmp_path / "cache", attempts=3, backoff=0.001)
    assert_error(
        exc,
        ChannelError,
        f"could not download {url}: HTTP 500 Internal Server Error (tried 3 times)",
        "check your network connection and the channel URL, then run again",
    )
    assert _Handler.requests == 3
    assert cache_files(tmp_path / "cache") == []


def test_fetch_does_not_retry_a_client_error(tmp_path: Path, server: str) -> None:
    archive = Package().conda(tmp_path)
    _Handler.failures = [404]
    url = f"{server}/{archive.name}"
    with pytest.raises(ChannelError) as exc:
        fetch(record_for(archive, url), tmp_path / "cache", backoff=0.001)
    assert str(exc.value) == f"could not download {url}: HTTP 404 Not Found"
    assert _Handler.requests == 1


def test_fetch_refuses_a_download_with_a_wrong_sha256(tmp_path: Path, server: str) -> None:
    archive = Package().conda(tmp_path)
    _Handler.body = archive.read_bytes()
    record = record_for(archive, f"{server}/{archive.name}", sha256="c" * 64)
    with pytest.raises(ArchiveError) as exc:
        fetch(record, tmp_path / "cache")
    assert_error(
        exc,
        ArchiveError,
        f"sha256 mismatch for {DIST}.conda: expected {'c' * 64}, got {sha(archive.read_bytes())}",
        "the channel served another file than its index lists; try again later",
    )
    assert cache_files(tmp_path / "cache") == []


@pytest.mark.usefixtures("server")  # for its proxy settings
def test_fetch_gives_up_at_its_deadline(tmp_path: Path, server: str) -> None:
    # A byte every 0.05 s: no read ever waits long, the download as a whole would take minutes.
    archive = Package().conda(tmp_path)
    _Handler.body, _Handler.pause = archive.read_bytes(), 0.05
    url = f"{server}/{archive.name}"
    start = time.monotonic()
    with pytest.raises(ChannelError) as exc:
        fetch(record_for(archive, url), tmp_path / "cache", timeout=0.5)
    assert time.monotonic() - start < 2
    assert_error(
        exc,
        ChannelError,
        f"could not download {url}: no complete answer within 0.5 s",
        "check your network connection and the channel URL; a slow channel or a large archive"
        " needs a larger --timeout (now 0.5 s)",
    )
    assert _Handler.requests == 1
    assert cache_files(tmp_path / "cache") == []


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Lower this process's file size limit (``ulimit -f``): larger writes fail with EFBIG.

    Python ignores SIGXFSZ, so the write fails instead of the process being killed. The limit
    goes back up afterwards, which the soft limit allows without privileges.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


BIG = M("share/big.bin", b"\0" * (2 << 20))


def test_a_file_size_limit_while_extracting_is_not_a_damaged_archive(
    tmp_path: Path, fmt: str
) -> None:
    archive = build(Package(payload=[*Package().payload, BIG]), tmp_path, fmt)
    with file_size_limit(1 << 20), pytest.raises(WriteError) as exc:
        extract(archive, tmp_path / "out")
    assert_error(
        exc,
        WriteError,
        f"cannot extract {archive.name}: File too large (last member read: 'share/big.bin')",
        "raise the file size limit (ulimit -f), or set TMPDIR to a folder on a file system that"
        " takes larger files",
    )
    assert not (tmp_path / "out").exists()


def test_a_file_size_limit_while_downloading_is_not_a_network_error(
    tmp_path: Path, server: str
) -> None:
    archive = Package(payload=[M("share/noise.bin", os.urandom(2 << 20))]).conda(tmp_path)
    _Handler.body = archive.read_bytes()
    with file_size_limit(1 << 20), pytest.raises(WriteError) as exc:
        fetch(record_for(archive, f"{server}/{archive.name}"), tmp_path / "cache")
    assert_error(
        exc,
        WriteError,
        f"cannot write {archive.name} into the cache: File too large",
        "raise the file size limit (ulimit -f), or pass --cache-dir with a folder on a file"
        " system that takes larger files",
    )
    assert _Handler.requests == 1  # not a network failure: not tried again
    assert cache_files(tmp_path / "cache") == []


def test_a_cache_folder_without_write_permission(tmp_path: Path, server: str) -> None:
    archive = Package().conda(tmp_path)
    _Handler.body = archive.read_bytes()
    (tmp_path / "cache" / "pkgs").mkdir(parents=True)
    (tmp_path / "cache" / "pkgs").chmod(0o555)
    with contextlib.suppress(PermissionError):
        (tmp_path / "cache" / "pkgs" / "probe").touch()
        pytest.skip("this user writes into read-only folders (root, CAP_DAC_OVERRIDE)")
    with pytest.raises(WriteError) as exc:
        fetch(record_for(archive, f"{server}/{archive.name}"), tmp_path / "cache")
    assert_error(
        exc,
        WriteError,
        f"cannot write {archive.name} into the cache: Permission denied",
        f"{tmp_path / 'cache'} cannot be written to; pass --cache-dir with a folder you can"
        " write to",
    )


def test_fetch_reports_an_unreachable_server(tmp_path: Path) -> None:
    archive = Package().conda(tmp_path)
    url = "http://127.0.0.1:9/demo-1.0-h0_0.conda"  # the discard port: nothing listens there
    with pytest.raises(ChannelError) as exc:
        fetch(record_for(archive, url), tmp_path / "cache", attempts=2, backoff=0.001)
    assert (
        str(exc.value)
        == f"could not download {url}: [Errno 111] Connection refused (tried 2 times)"
    )
    assert cache_files(tmp_path / "cache") == []


#: a payload of every kind tarfile writes: files on both sides of the threads' size limit, in
#: several folders, an empty one, an executable, a symbolic link and a hard link to a small file
#: written on a thread, and folders of their own mode; each with its own time.
WRITTEN = (
    ("lib/libx.so.1", "file", os.urandom(3 << 20), 0o755),
    *((f"share/t/{chr(97 + n % 7)}/term{n}", "file", os.urandom(n * 37), 0o644) for n in range(60)),
    ("share/empty", "file", b"", 0o644),
    ("bin/tool", "file", b"#!/bin/sh\n", 0o755),
    ("lib/libx.so", "symlink", b"libx.so.1", 0o777),
    ("share/t/hard", "hardlink", b"share/t/a/term7", 0o644),
    # hard links right behind their files, which a thread may not have written yet
    *(
        member
        for n in range(20)
        for member in (
            (f"share/h/f{n}", "file", os.urandom(64 << 10), 0o644),
            (f"share/h/l{n}", "hardlink", f"share/h/f{n}".encode(), 0o644),
        )
    ),
    ("etc", "folder", b"", 0o755),
    ("share/t/z/last", "file", b"the last member", 0o600),
)


def written_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for number, (name, kind, data, mode) in enumerate(WRITTEN):
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, 1_700_000_000 + number
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}.get(
                kind, tarfile.DIRTYPE
            )
            info.linkname = data.decode()
            tar.addfile(info)
    return buffer.getvalue()


def extract_with_writes(fileobj: IO[bytes], dest: Path, threads: int) -> tuple[dict[str, str], int]:
    """Extract the tar stream *fileobj* into *dest* as the unpack stage does, through Writes.

    :returns: the sha256 of each file, and the stream's ``bufsize`` once it is done.
    """
    from condapress.unpack._writes import Writes

    digests: dict[str, str] = {}
    with tarfile.open(fileobj=fileobj, mode="r|") as tar:
        writes = Writes(tar, digests, threads=threads)
        try:
            tar.extractall(dest, filter="data")
            writes.drain()
        finally:
            writes.close()
        return digests, tar.fileobj.bufsize  # type: ignore[attr-defined]


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under *root*: its kind, bytes or target, mode and time.

    No time for a link, nor for a folder that no member names (it is made when needed).
    """
    seen: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            seen[name] = ("symlink", str(path.readlink()))
        elif path.is_dir():
            named = any(name == member and kind == "folder" for member, kind, _, _ in WRITTEN)
            seen[name] = ("folder", stat.S_IMODE(st.st_mode), st.st_mtime if named else None)
        else:
            seen[name] = ("file", path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_mtime)
    return seen


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_the_payload_is_written_whole_and_hashed_whatever_the_threads(
    tmp_path: Path, threads: int
) -> None:
    from condapress.unpack._writes import SMALL

    assert len(WRITTEN[0][2]) > SMALL  # one file is written by the reading thread, on any count
    digests, _ = extract_with_writes(io.BytesIO(written_tar()), tmp_path / "out", threads)
    files = {name: data for name, kind, data, _ in WRITTEN if kind == "file"}
    assert digests == {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    got = snapshot(tmp_path / "out")
    # a hard link is the file it links to: its mode and time are the last member's of the two
    last = {data.decode(): n for n, (_, kind, data, _) in enumerate(WRITTEN) if kind == "hardlink"}
    for number, (name, kind, data, mode) in enumerate(WRITTEN):
        mtime = 1_700_000_000 + last.get(name, number)
        if kind == "file":
            assert got[name] == ("file", data, mode, mtime), name
        elif kind == "symlink":
            assert got[name] == ("symlink", data.decode())
        elif kind == "hardlink":
            assert got[name] == ("file", files[data.decode()], mode, mtime)
            out = tmp_path / "out"
            assert (out / name).stat().st_ino == (out / data.decode()).stat().st_ino
        else:
            assert got[name] == ("folder", mode, mtime)
    if threads > 1:  # the same files, bytes, modes and times as tarfile's one thread writes
        alone = tmp_path / "alone"
        with tarfile.open(fileobj=io.BytesIO(written_tar()), mode="r|") as tar:
            tar.extractall(alone, filter="data")
        assert got == snapshot(alone)


def test_a_small_file_that_cannot_be_written_is_named_whatever_was_read_after_it(
    tmp_path: Path, fmt: str
) -> None:
    # written on a thread: the error comes back once later members have been read
    later = [M(f"share/later/{n}", b"x") for n in range(40)]
    payload = [*Package().payload, M("share/mid.bin", b"\0" * (768 << 10)), *later]
    archive = build(Package(payload=payload), tmp_path, fmt)
    with file_size_limit(512 << 10), pytest.raises(WriteError) as exc:
        extract(archive, tmp_path / "out", threads=2)
    assert_error(
        exc,
        WriteError,
        f"cannot extract {archive.name}: File too large (last member read: 'share/mid.bin')",
        "raise the file size limit (ulimit -f), or set TMPDIR to a folder on a file system that"
        " takes larger files",
    )
    assert not (tmp_path / "out").exists()


def test_the_payload_is_verified_with_the_digests_taken_while_writing(
    realworld: Path, tmp_path: Path
) -> None:
    from condapress.unpack import _payload

    archive = realworld / "cf2024/linux-64/lz4-c-1.9.4-hcb278e6_0.conda"
    package = extract(archive, tmp_path / "lz4")
    entry = next(e for e in package.info.paths if e.path_type is PathType.HARDLINK and e.sha256)
    # a digest taken while writing is not checked against the disk again: a wrong one is refused
    with pytest.raises(ArchiveError) as exc:
        _payload.verify(
            package.info, package.root, archive.name, legacy=False, digests={entry.path: "0" * 64}
        )
    assert exc.value.message == (
        f"{archive.name} does not match its paths.json: {entry.path} has sha256 {'0' * 64}, "
        f"not {entry.sha256}"
    )


class _ReadsCounted(io.BytesIO):
    """An archive's bytes that note the size of every read taking them."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.reads.append(len(data))
        return data


@pytest.mark.parametrize("threads", [1, 2])
def test_a_large_file_is_taken_from_the_stream_in_reads_of_its_own_size(
    tmp_path: Path, threads: int
) -> None:
    from condapress._limits import CHUNK

    name, _, data, _ = WRITTEN[0]  # 3 MiB, the first member: its header, then its bytes
    stream = _ReadsCounted(written_tar())
    digests, record = extract_with_writes(stream, tmp_path / "out", threads)
    assert record == tarfile.RECORDSIZE  # the stream's own records again, for what follows
    taken, reads = 0, 0
    while taken < tarfile.BLOCKSIZE + len(data):
        taken += stream.reads[reads]
        reads += 1
    # one record for the header (and the first of the bytes), then a read per CHUNK; tarfile's
    # records alone would take 308
    assert reads == 1 + len(data) // CHUNK
    assert digests[name] == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "out" / name).read_bytes() == data


def test_a_file_larger_than_a_record_is_read_whole_on_any_number_of_threads(
    tmp_path: Path,
) -> None:
    counts = []
    for threads in (1, 2):
        stream = _ReadsCounted(written_tar())
        extract_with_writes(stream, tmp_path / f"out{threads}", threads)
        counts.append(len(stream.reads))
    # the twenty 64 KiB files go to the threads when there are some: a read each either way,
    # where tarfile's records would take seven
    assert counts[1] == counts[0]
    assert counts[0] < 20 * (64 << 10) // tarfile.RECORDSIZE
