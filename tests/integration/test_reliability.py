"""Hostile archives, a failing HTTP channel, interrupted runs and reproducible bytes, end to end.

Every test presses the fixture channel (or a copy of it with one archive rewritten) through the
command line, in process with ``condapress._cli.main`` or as ``python -m condapress``. The HTTP
channel is a real ``http.server`` on 127.0.0.1 that the test starts; nothing leaves loopback.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import types
import zipfile
from pathlib import Path

import pytest

from condapress import _limits
from condapress.unpack import _fetch
from support import REALWORLD
from support.archive_edits import (
    Member,
    file_member,
    link_member,
    paths_json_for,
    read_archive,
    reindex,
    special_member,
    write_archive,
)
from support.channel_server import PROXY_VARIABLES, ChannelHandler, ChannelServer
from support.presses import (
    LIBGREET,
    LIBGREETPP,
    PRESS,
    PYGREET,
    SALUTATION,
    UNSAFE_HINT,
    Workspace,
    assert_refused,
    messages,
    press,
)

WHEEL = "pygreet-1.0.0-cp311-cp311-"
MISMATCH_HINT = (
    "hint: the archive was changed after it was built; download it again from its channel"
)
DAMAGED_HINT = "hint: delete the file and download it again; report the package if it persists"
METADATA_HINT = "hint: the package was not built by conda-build or rattler-build; rebuild it"


#: The two archive formats, each as a fixture archive that the press unpacks.
FORMATS = pytest.mark.parametrize("archive", [LIBGREET, LIBGREETPP], ids=["tar_bz2", "conda"])


class KnownBug(AssertionError):
    """A check that fails because of a known bug elsewhere; its xfail mark names the bug."""


# -- hostile archives, through the command line -------------------------------------------------


def _hostile_members(outside: Path) -> dict[str, tuple[list[Member], str, str]]:
    """Members appended to a payload: (members, the member refused, why)."""
    up = "../" * 40 + str(outside).lstrip("/")  # from any depth, to tmp_path/outside
    return {
        "absolute": (
            [file_member(f"{outside}/evil")],
            f"{outside}/evil",
            "it is an absolute path",
        ),
        "dotdot": (
            [file_member(f"lib/{up}/evil")],
            f"lib/{up}/evil",
            "it has a '..' component",
        ),
        "symlink-out": (
            [link_member("lib/escape", up), file_member("lib/escape/evil")],
            "lib/escape",
            f"it is a symbolic link to {up!r}, outside the package",
        ),
        "symlink-absolute": (
            [link_member("lib/escape", str(outside)), file_member("lib/escape/evil")],
            "lib/escape",
            f"it is a symbolic link to {str(outside)!r}, outside the package",
        ),
        "hardlink-out": (
            [link_member("lib/secret", str(outside / "secret"), tarfile.LNKTYPE)],
            "lib/secret",
            f"it is a hard link to {str(outside / 'secret')!r}, outside the package",
        ),
        "character-device": (
            [special_member("dev/null", tarfile.CHRTYPE)],
            "dev/null",
            "it is a character device",
        ),
        "block-device": (
            [special_member("dev/sda", tarfile.BLKTYPE)],
            "dev/sda",
            "it is a block device",
        ),
        "fifo": ([special_member("lib/pipe", tarfile.FIFOTYPE)], "lib/pipe", "it is a FIFO"),
        "duplicate": (
            [file_member("lib/pkgconfig/dup.pc"), file_member("lib/pkgconfig/dup.pc")],
            "lib/pkgconfig/dup.pc",
            "it appears twice in the archive",
        ),
        "folder-becomes-link": (
            [link_member("lib/pkgconfig", str(outside))],
            "lib/pkgconfig",
            "it would turn the folder 'lib/pkgconfig' into a symbolic link",
        ),
    }


HOSTILE = list(_hostile_members(Path("/x")))


@FORMATS
@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_members(
    case: str, archive: str, channel: Path, tmp_path: Path, workspace: Workspace
) -> None:
    members, refused, why = _hostile_members(tmp_path / "outside")[case]
    path = channel / "linux-64" / archive
    info, pkg = read_archive(path)
    write_archive(path, info, pkg + members)
    reindex(path)
    workspace.refused(channel, f"error: {archive}: refusing member {refused!r}: {why}", UNSAFE_HINT)


@pytest.mark.parametrize(
    ("component", "member", "reason"),
    [
        ("info", "lib/sneaky.so", "only info/ belongs in info-{stem}.tar.zst"),
        ("pkg", "info/index.json", "package metadata does not belong in pkg-{stem}.tar.zst"),
    ],
    ids=["info", "pkg"],
)
def test_inner_tarballs_that_lie_about_their_names(
    component: str, member: str, reason: str, channel: Path, workspace: Workspace
) -> None:
    path = channel / "linux-64" / LIBGREETPP
    info, pkg = read_archive(path)
    index = next(m for m in info if m.info.name == "info/index.json")
    if component == "info":
        info = [*info, file_member(member)]
    else:
        pkg = [Member(index.info, index.data), *pkg]
    write_archive(path, info, pkg)
    reindex(path)
    why = reason.format(stem=LIBGREETPP.removesuffix(".conda"))
    workspace.refused(
        channel, f"error: {LIBGREETPP}: refusing member {member!r}: {why}", UNSAFE_HINT
    )


def test_decompression_bomb_conda(channel: Path, workspace: Workspace) -> None:
    # 100 MiB of zeros in a .conda of about 15 KiB: refused from its tar header, unwritten.
    path = channel / "linux-64" / LIBGREETPP
    info, pkg = read_archive(path)
    write_archive(path, info, [*pkg, file_member("share/zeros", bytes(100 << 20))])
    reindex(path)
    size = path.stat().st_size
    assert size < 40_000
    limit = max(64 << 20, 1000 * size)
    workspace.refused(
        channel,
        f"error: {LIBGREETPP}: refusing member 'share/zeros': the archive ({size} bytes) would"
        f" unpack to more than {limit} bytes (a decompression bomb)",
        UNSAFE_HINT,
    )


def test_decompression_bomb_tar_bz2(
    channel: Path, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bzip2 is slow to write 64 MiB with; lowering the floor keeps the ratio rule under test.
    monkeypatch.setattr(_limits, "MIN_UNPACKED", 1 << 20)
    path = channel / "linux-64" / LIBGREET
    info, pkg = read_archive(path)
    write_archive(path, info, [*pkg, file_member("share/zeros", bytes(24 << 20))])
    reindex(path)
    size = path.stat().st_size
    assert 1000 * size < 24 << 20
    workspace.refused(
        channel,
        f"error: {LIBGREET}: refusing member 'share/zeros': the archive ({size} bytes) would"
        f" unpack to more than {1000 * size} bytes (a decompression bomb)",
        UNSAFE_HINT,
    )


def _with_pax_header(tar_data: bytes, size: int) -> bytes:
    """*tar_data* after a pax extended header of *size* zero bytes (tarfile reads it whole)."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, size
    return header.tobuf(tarfile.USTAR_FORMAT) + bytes(-(-size // 512) * 512) + tar_data


def test_decompression_bomb_in_a_header(channel: Path, workspace: Workspace) -> None:
    # Not a member but the header of one: refused by the bytes that come out of zstd.
    path = channel / "linux-64" / LIBGREETPP
    info, pkg = read_archive(path)
    write_archive(path, info, pkg, edit=lambda tar: _with_pax_header(tar, 80 << 20))
    reindex(path)
    size = path.stat().st_size
    workspace.refused(
        channel,
        f"error: {LIBGREETPP} is a decompression bomb: pkg-{LIBGREETPP.removesuffix('.conda')}"
        f".tar.zst unpacks to more than {64 << 20} bytes, from an archive of {size} bytes (before"
        " its first member)",
        UNSAFE_HINT,
    )


def _declared_smaller(tar_data: bytes, name: str, declared: int) -> bytes:
    """*tar_data* with the ustar size field of member *name* lowered to *declared*."""
    data = bytearray(tar_data)
    with tarfile.open(fileobj=io.BytesIO(tar_data)) as tar:
        offset = tar.getmember(name).offset
    data[offset + 124 : offset + 136] = b"%011o\0" % declared
    data[offset + 148 : offset + 156] = b" " * 8
    data[offset + 148 : offset + 156] = b"%06o\0 " % sum(data[offset : offset + 512])
    return bytes(data)


@FORMATS
def test_member_larger_than_its_declared_size(
    archive: str, channel: Path, workspace: Workspace
) -> None:
    # The tar header of the last member declares 100 of its 2 KiB: tarfile writes 100 bytes,
    # reads the rest as a broken header and stops; paths.json, which has the real size, tells.
    path = channel / "linux-64" / archive
    info, pkg = read_archive(path)
    header = next(m for m in pkg if m.info.name.startswith("include/"))
    pkg = [m for m in pkg if m is not header] + [header]
    write_archive(path, info, pkg, edit=lambda tar: _declared_smaller(tar, header.info.name, 100))
    reindex(path)
    workspace.refused(
        channel,
        f"error: {archive} does not match its paths.json: {header.info.name} is 100 bytes,"
        f" not {len(header.data)}",
        MISMATCH_HINT,
    )


def test_zip_entry_larger_than_its_declared_size(channel: Path, workspace: Workspace) -> None:
    # The zip directory declares the payload tarball 1000 bytes shorter than it is.
    path = channel / "linux-64" / LIBGREETPP
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        entry = zf.getinfo(f"pkg-{LIBGREETPP.removesuffix('.conda')}.tar.zst")
    short = struct.pack("<II", entry.compress_size - 1000, entry.file_size - 1000)
    data[entry.header_offset + 18 : entry.header_offset + 26] = short  # local file header
    central = data.index(b"PK\x01\x02\x14\x03", data.index(b"PK\x01\x02"))
    while data[central + 46 : central + 46 + len(entry.filename)] != entry.filename.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    data[central + 20 : central + 28] = short  # central directory
    path.write_bytes(bytes(data))
    reindex(path)
    workspace.refused(
        channel,
        f"error: {LIBGREETPP} is damaged: the zip data is corrupt in {entry.filename} (before"
        " its first member)",
        DAMAGED_HINT,
    )


@FORMATS
@pytest.mark.parametrize("problem", ["missing", "sha256"])
def test_payload_that_disagrees_with_paths_json(
    problem: str, archive: str, channel: Path, workspace: Workspace
) -> None:
    path = channel / "linux-64" / archive
    info, pkg = read_archive(path)
    header = next(m for m in pkg if m.info.name.startswith("include/"))
    expected = hashlib.sha256(header.data).hexdigest()
    if problem == "missing":
        pkg.remove(header)
        why = f"{header.info.name} is missing"
    else:
        header.data = header.data.replace(b"#", b"%", 1)
        why = (
            f"{header.info.name} has sha256 {hashlib.sha256(header.data).hexdigest()}, "
            f"not {expected}"
        )
    write_archive(path, info, pkg)
    reindex(path)
    workspace.refused(
        channel, f"error: {archive} does not match its paths.json: {why}", MISMATCH_HINT
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("name", "../../evil"), ("name", "lib\\greet"), ("version", "1.0\n0"), ("build", "h\x1b[2J")],
    ids=["name-dotdot", "name-backslash", "version-newline", "build-escape"],
)
def test_unsafe_names_in_index_json(
    key: str, value: str, channel: Path, workspace: Workspace
) -> None:
    path = channel / "linux-64" / LIBGREET
    info, pkg = read_archive(path)
    index = next(m for m in info if m.info.name == "info/index.json")
    index.data = json.dumps({**json.loads(index.data), key: value}).encode()
    write_archive(path, info, pkg)
    reindex(path)
    workspace.refused(
        channel,
        f"error: {LIBGREET} has invalid metadata: info/index.json: {key} {value!r} is not safe in"
        " a file name (empty, or contains '/', '\\', '..' or a control character)",
        METADATA_HINT,
    )


@FORMATS
def test_truncated_elf_library(archive: str, channel: Path, workspace: Workspace) -> None:
    path = channel / "linux-64" / archive
    info, pkg = read_archive(path)
    library = next(m for m in pkg if m.info.isreg() and ".so.1.0.0" in m.info.name)
    library.data = library.data[:200]
    write_archive(path, paths_json_for(info, pkg), pkg)
    reindex(path)
    run = workspace.press(channel)
    assert run.status == 1
    # the package's archive and the member name the file; the size it needs comes from its headers
    prefix = f"error: {archive}: {library.info.name} is not a valid ELF file: it is truncated "
    assert run.stderr[-2].startswith(f"{prefix}(200 bytes, ")
    assert run.stderr[-1] == DAMAGED_HINT
    workspace.assert_untouched()


@FORMATS
def test_a_library_that_is_not_elf(archive: str, channel: Path, workspace: Workspace) -> None:
    # A linker script where the soname chain ends: the library the extension needs is missing.
    path = channel / "linux-64" / archive
    info, pkg = read_archive(path)
    library = next(m for m in pkg if m.info.isreg() and ".so.1.0.0" in m.info.name)
    library.data = b"INPUT(-lgreet_real)\n"
    write_archive(path, paths_json_for(info, pkg), pkg)
    reindex(path)
    run = workspace.press(channel)
    soname = library.info.name.removeprefix("lib/").removesuffix(".0.0")
    needing = (
        "lib/libgreetpp.so.1.0.0"
        if archive == LIBGREET
        else ("lib/python3.11/site-packages/pygreet/_pygreet.cpython-311-x86_64-linux-gnu.so")
    )
    needing_archive = LIBGREETPP if archive == LIBGREET else PYGREET
    assert_refused(
        run,
        f"error: {needing_archive}: {needing} needs {soname}, which no package of the closure "
        "provides and a manylinux system does not have",
        "hint: add the conda package that provides it to the specs",
    )
    workspace.assert_untouched()


# -- the three real broken archives ------------------------------------------------------------

BROKEN = {
    "ca-certificates": (
        "ca-certificates-2024.7.4-hbcca054_0.rezipped.conda",
        "ca-certificates-2024.7.4-hbcca054_0.conda",
        (
            "is not a .conda archive: its members are nested under the folder"
            " 'Users/jcorreia/Downloads/ca-certificates-2024.7.4-hbcca054_0/'"
        ),
        "hint: the archive was damaged when it was re-packed; download the original again",
    ),
    "nano": (
        "nano-2.4.1-0.gzip-named-bz2.tar.bz2",
        "nano-2.4.1-0.tar.bz2",
        "is not a bzip2 archive: it holds gzip data",
        "hint: a .tar.bz2 conda package must be bzip2-compressed; rebuild it with conda-build",
    ),
    "zlib": (
        "zlib-1.2.11-h7b6447c_3.empty-symlink-targets.conda",
        "zlib-1.2.11-h7b6447c_3.conda",
        ": refusing member 'lib/libz.so.1': it is a symbolic link with an empty target",
        "hint: the archive was damaged when it was re-packed; download the original again",
    ),
}


@pytest.mark.realworld
@pytest.mark.parametrize("name", BROKEN)
def test_real_broken_archives(name: str, channel: Path, workspace: Workspace) -> None:
    if not REALWORLD.is_dir():
        pytest.skip("../shared/realworld is absent")
    source, file_name, problem, hint = BROKEN[name]
    # Served under the name a channel would give it, with a record that matches its bytes.
    path = channel / "linux-64" / file_name
    shutil.copyfile(REALWORLD / "broken" / source, path)
    repodata = json.loads((channel / "linux-64" / "repodata.json").read_text())
    key = "packages.conda" if file_name.endswith(".conda") else "packages"
    version, build = file_name.removeprefix(f"{name}-").split("-")
    repodata[key][file_name] = {
        "name": name,
        "version": version,
        "build": build.removesuffix(".conda").removesuffix(".tar.bz2"),
        "build_number": 0,
        "depends": [],
        "subdir": "linux-64",
    }
    (channel / "linux-64" / "repodata.json").write_text(json.dumps(repodata))
    reindex(path)
    separator = "" if problem.startswith(":") else " "
    workspace.refused(
        channel, f"error: {file_name}{separator}{problem}", hint, argv=(name, "--python", "3.11")
    )


# -- files that are not what the repodata says -------------------------------------------------


def _tampered(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        del data[-100:]
    else:
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("archive", "how"),
    [
        pytest.param(LIBGREET, "truncated", id="tar_bz2-truncated"),
        pytest.param(LIBGREET, "flipped", id="tar_bz2-flipped"),
        pytest.param(LIBGREETPP, "truncated", id="conda-truncated"),
        pytest.param(LIBGREETPP, "flipped", id="conda-flipped"),
    ],
)
def test_a_local_archive_is_checked_against_repodata_before_it_is_read(
    archive: str, how: str, channel: Path, workspace: Workspace
) -> None:
    path = channel / "linux-64" / archive
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    size = path.stat().st_size
    _tampered(path, how)
    run = workspace.press(channel)
    assert run.status == 1
    if how == "truncated":
        message = f"error: size mismatch for {archive}: expected {size} bytes, got {size - 100}"
    else:
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        message = f"error: sha256 mismatch for {archive}: expected {expected}, got {got}"
    hint = "hint: the file is not the one the channel lists; re-index the channel or fetch it again"
    workspace.assert_untouched()
    if messages(run.stderr) != [message, hint]:
        raise KnownBug(run.stderr)


# -- an HTTP channel on loopback, with failures --------------------------------------------------


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses fetch makes between tries, recorded instead of slept."""
    slept: list[float] = []
    clock = types.SimpleNamespace(sleep=slept.append, time=time.time, monotonic=time.monotonic)
    monkeypatch.setattr(_fetch, "time", clock)
    return slept


def cached(cache: Path) -> list[str]:
    """The cache's package files, each checked to hold what its sha256 prefix promises."""
    folder = cache / "pkgs"
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    for name in names:
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert name.startswith(".") or name[:64] == digest, name
    return names


def downloads(server: ChannelServer, archive: str) -> int:
    return server.requests.count(f"GET /linux-64/{archive}")


def test_failed_downloads_are_tried_again(
    server: ChannelServer,
    tmp_path: Path,
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A 500, a connection reset mid-body, and an answer slower than the read timeout.
    monkeypatch.setattr(_fetch, "_TIMEOUT", 1.0)
    monkeypatch.setattr(ChannelHandler, "SLOW", 10.0)
    server.faults = {
        f"linux-64/{LIBGREET}": ["500"],
        f"linux-64/{LIBGREETPP}": ["reset"],
        f"linux-64/{PYGREET}": ["slow"],
    }
    run = press(server.url, tmp_path / "out", tmp_path / "cache", *PRESS)
    assert run.status == 0, run.stderr
    [wheel] = (tmp_path / "out").iterdir()
    assert wheel.name.startswith(WHEEL)
    assert [downloads(server, a) for a in (LIBGREET, LIBGREETPP, PYGREET)] == [2, 2, 2]
    assert sleeps == [0.5, 0.5, 0.5]  # the first pause before each second try
    url = f"{server.url}/linux-64"
    warnings = [r.getMessage() for r in caplog.records if r.name == "condapress.unpack"]
    # The root first: its own METADATA is read before the plan is made.
    assert warnings[0] == f"downloading {url}/{PYGREET} failed (timed out); trying again"
    assert warnings[1] == (
        f"downloading {url}/{LIBGREET} failed (HTTP 500 Internal Server Error); trying again"
    )
    # A reset shows as ECONNRESET or as a short read, depending on when it lands.
    assert warnings[2].startswith(f"downloading {url}/{LIBGREETPP} failed (")
    assert len(warnings) == 3
    # the three pressed, and salutation-python, which the plan read for its own METADATA
    assert sorted(n.split("-", 1)[1] for n in cached(tmp_path / "cache")) == sorted(
        (LIBGREET, LIBGREETPP, PYGREET, SALUTATION)
    )


@pytest.mark.realworld
@pytest.mark.parametrize("channel", [REALWORLD / "cf2024"])  # served as it is
def test_a_served_roots_own_metadata_is_read_before_the_plan(
    server: ChannelServer, tmp_path: Path
) -> None:
    if not REALWORLD.is_dir():
        pytest.skip("../shared/realworld is absent: the conda-forge archive tier needs it")
    # With nothing cached, click's markers are known only once its archive is fetched.
    run = press(server.url, tmp_path / "out", tmp_path / "cache", "click", "--python", "3.10")
    assert run.status == 0, run.stderr
    [wheel] = (tmp_path / "out").iterdir()
    with zipfile.ZipFile(wheel) as archive:
        head = archive.read("click-8.1.7.dist-info/METADATA").decode().split("\n\n")[0]
    assert [line for line in head.splitlines() if line.startswith("Requires-Dist")] == [
        'Requires-Dist: colorama; platform_system == "Windows"',
        'Requires-Dist: importlib-metadata; python_version < "3.8"',
    ]
    assert server.requests.count("GET /noarch/click-8.1.7-unix_pyh707e725_0.conda") == 1


def test_a_slow_channel_is_waited_for(
    server: ChannelServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.faults = {f"linux-64/{a}": ["slow"] for a in (LIBGREET, LIBGREETPP, PYGREET)}
    run = press(server.url, tmp_path / "out", tmp_path / "cache", *PRESS)
    assert run.status == 0, run.stderr
    assert [downloads(server, a) for a in (LIBGREET, LIBGREETPP, PYGREET)] == [1, 1, 1]
    assert not [r for r in caplog.records if r.name == "condapress.unpack"]


def test_retries_are_bounded(server: ChannelServer, tmp_path: Path, sleeps: list[float]) -> None:
    server.faults = {f"linux-64/{LIBGREET}": ["500"] * 10}
    run = press(server.url, tmp_path / "out", tmp_path / "cache", *PRESS)
    url = f"{server.url}/linux-64/{LIBGREET}"
    assert_refused(
        run,
        f"error: could not download {url}: HTTP 500 Internal Server Error (tried 4 times)",
        "hint: check your network connection and the channel URL, then run again",
    )
    assert downloads(server, LIBGREET) == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert not (tmp_path / "out").exists()
    assert LIBGREET not in " ".join(cached(tmp_path / "cache"))


@pytest.mark.parametrize("how", ["flipped", "truncated"])
def test_a_download_that_is_not_the_listed_file_is_refused(
    how: str, server: ChannelServer, channel: Path, tmp_path: Path
) -> None:
    path = channel / "linux-64" / LIBGREET
    expected, size = hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size
    _tampered(path, how)
    run = press(server.url, tmp_path / "out", tmp_path / "cache", *PRESS)
    if how == "truncated":
        message = f"error: size mismatch for {LIBGREET}: expected {size} bytes, got {size - 100}"
    else:
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        message = f"error: sha256 mismatch for {LIBGREET}: expected {expected}, got {got}"
    assert_refused(
        run, message, "hint: the channel served another file than its index lists; try again later"
    )
    assert downloads(server, LIBGREET) == 1  # a wrong file is not a network failure
    assert not (tmp_path / "out").exists()
    assert LIBGREET not in " ".join(cached(tmp_path / "cache"))


@pytest.mark.parametrize("how", ["flipped", "truncated"])
def test_a_damaged_cached_download_is_fetched_again(
    how: str, server: ChannelServer, tmp_path: Path
) -> None:
    first = press(server.url, tmp_path / "out", tmp_path / "cache", *PRESS)
    assert first.status == 0, first.stderr
    [cached_file] = (tmp_path / "cache" / "pkgs").glob(f"*-{LIBGREET}")
    _tampered(cached_file, how)
    run = press(server.url, tmp_path / "out", tmp_path / "cache", *PRESS)
    if run.status != 0:
        raise KnownBug(run.stderr)
    assert downloads(server, LIBGREET) == 2
    cached(tmp_path / "cache")


# -- interrupted runs --------------------------------------------------------------------------

#: Runs ``python -m condapress`` as started from a terminal's shell. A shell without job control
#: (a CI script's ``... &``) starts its background commands with SIGINT ignored, the processes
#: they start inherit that, and Python leaves an ignored SIGINT ignored: the child gets Python's
#: own handler back, which is what a terminal's Ctrl-C meets.
_AS_FROM_A_TERMINAL = """\
import runpy, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.argv = ["condapress", *sys.argv[1:]]
runpy.run_module("condapress", run_name="__main__", alter_sys=True)
"""

#: The same, with os.fsync held up once a wheel's temporary file is written: the moment just
#: before it would be renamed into place.
_HOLD_AT_THE_WHEEL = (
    """\
import os, pathlib, time

marker = pathlib.Path(os.environ["HOLD_MARKER"])
fsync = os.fsync


def held(fd):
    fsync(fd)
    if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):
        marker.write_text("holding")
        time.sleep(60)


os.fsync = held
"""
    + _AS_FROM_A_TERMINAL
)


@pytest.mark.parametrize(
    ("point", "sig"),
    [
        ("repodata", signal.SIGINT),
        ("repodata", signal.SIGTERM),
        ("repodata", signal.SIGKILL),
        ("download", signal.SIGINT),
        pytest.param("download", signal.SIGTERM),
        ("download", signal.SIGKILL),
        ("wheel", signal.SIGINT),
        pytest.param("wheel", signal.SIGTERM),
        pytest.param("wheel", signal.SIGKILL),
    ],
    ids=lambda value: value.name if isinstance(value, signal.Signals) else value,
)
def test_an_interrupted_press(
    point: str,
    sig: signal.Signals,
    server: ChannelServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, cache, tmp = tmp_path / "out", tmp_path / "cache", tmp_path / "tmp"
    tmp.mkdir()
    argv = ["-c", server.url, "-o", str(out), "--cache-dir", str(cache), *PRESS]
    if point == "repodata":  # while the solver waits for linux-64/repodata.json
        server.faults = {"linux-64/repodata.json": ["stall"]}
    elif point == "download":  # halfway through downloading libgreet
        server.faults = {f"linux-64/{LIBGREET}": ["stall"]}
    launcher = tmp_path / "launch.py"
    launcher.write_text(_HOLD_AT_THE_WHEEL if point == "wheel" else _AS_FROM_A_TERMINAL)
    command = [sys.executable, str(launcher), *argv]
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    env |= {"TMPDIR": str(tmp), "HOLD_MARKER": str(tmp_path / "holding")}
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        deadline = time.monotonic() + 60
        while not (server.stalled.is_set() or (tmp_path / "holding").exists()):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=30)
    server.release.set()

    if sig == signal.SIGINT:
        assert process.returncode == 130
        assert stderr.splitlines()[-1] == "error: interrupted; nothing was written"
    elif sig == signal.SIGTERM:  # unwound like an interrupt: every temporary file removed
        assert process.returncode == 143
        assert stderr.splitlines()[-1] == "error: terminated; nothing was written"
    else:
        assert process.returncode == -sig
    assert not list(out.glob("*.whl"))  # no wheel, whole or partial
    if sig != signal.SIGKILL:  # a killed process cannot clean up; any other one must
        assert (list(out.iterdir()) if out.exists() else []) == []
        assert list(tmp.iterdir()) == []
    for name in cached(cache):  # whatever is cached is whole and verified
        assert name.startswith(".") or name.endswith((LIBGREET, LIBGREETPP, PYGREET, SALUTATION))

    # The next run trusts what is cached, downloads the rest and removes what a killed run
    # left: its partial downloads, its hidden folder in the output folder and its work folder
    # in the temporary folder.
    server.faults = {}
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    run = press(server.url, out, cache, *PRESS)
    assert run.status == 0, run.stderr
    assert [p.name for p in out.iterdir()] == [run.stdout.split()[0].rpartition("/")[2]]
    assert list(tmp.iterdir()) == []
    assert [n for n in cached(cache) if n.startswith(".")] == []
    assert len(cached(cache)) == 4  # the three pressed, and salutation-python, read by the plan


def test_downloads_of_a_killed_run_are_removed_but_not_those_of_a_live_one(
    server: ChannelServer, tmp_path: Path
) -> None:
    pkgs = tmp_path / "cache" / "pkgs"
    pkgs.mkdir(parents=True)
    abandoned = pkgs / f".{LIBGREET}.abandoned.part"
    abandoned.write_bytes(b"half a download")
    live = pkgs / f".{LIBGREET}.live.part"
    live.write_bytes(b"a download under way")
    # A file that a run has just created and not locked yet: only an old one is abandoned.
    starting, old = pkgs / f".{LIBGREET}.starting.new", pkgs / f".{LIBGREET}.old.new"
    starting.touch()
    old.touch()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    with live.open("rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # as a running download holds it
        run = press(server.url, tmp_path / "out", tmp_path / "cache", *PRESS)
    assert run.status == 0, run.stderr
    assert sorted(p.name for p in pkgs.glob(".*")) == [live.name, starting.name]


# -- reproducible bytes ------------------------------------------------------------------------

#: Runs ``python -m condapress`` on a clock three days and an hour ahead.
_ANOTHER_DAY = """\
import runpy, sys, time

ahead = 3 * 86400 + 3600
now, gmtime, localtime = time.time, time.gmtime, time.localtime
time.time = lambda: now() + ahead
time.gmtime = lambda secs=None: gmtime(time.time() if secs is None else secs)
time.localtime = lambda secs=None: localtime(time.time() if secs is None else secs)
sys.argv = ["condapress", *sys.argv[1:]]
runpy.run_module("condapress", run_name="__main__", alter_sys=True)
"""


def wheels(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.whl")}


def test_the_same_press_gives_the_same_bytes(
    channel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = ("pygreet", "salutation-python", "tally", "--python", "3.11")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    # First: in this process, temporary files under tmp_path/a.
    (tmp_path / "a").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "a"))
    first = press(channel, tmp_path / "out-a", tmp_path / "cache-a", *specs)
    assert first.status == 0, first.stderr
    # Then: in a new process, with the channel's files touched to another day, umask 077, and
    # another TMPDIR, working folder, time zone, locale and clock.
    umask = os.umask(0o022)
    os.umask(umask)
    assert umask != 0o077
    day = time.mktime((2001, 9, 9, 1, 46, 40, 0, 0, -1))
    for path in [channel, *channel.rglob("*")]:
        os.utime(path, (day, day))
    other = tmp_path / "b" / "a-longer-temporary-folder"
    other.mkdir(parents=True)
    (tmp_path / "another_day.py").write_text(_ANOTHER_DAY)
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env |= {"TMPDIR": str(other), "TZ": "Pacific/Kiritimati", "LC_ALL": "C"}
    argv = ["-c", str(channel), "-o", str(tmp_path / "out-b"), "--cache-dir", str(other / "c")]
    subprocess.run(
        [sys.executable, str(tmp_path / "another_day.py"), *argv, *specs],
        env=env,
        cwd=other,
        umask=0o077,
        check=True,
        capture_output=True,
    )
    built = wheels(tmp_path / "out-a")
    assert len(built) == 5  # pygreet, salutation, tally and the two libgreet wheels
    assert wheels(tmp_path / "out-b") == built
