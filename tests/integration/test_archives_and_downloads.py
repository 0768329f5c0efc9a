"""Real archives conda reads, archives that decide the plan, hanging channels, full disks.

Every case runs the command line (in process with ``condapress._cli.main``, or as ``python -m
condapress`` where a process limit is needed) on a real archive or on a channel the test builds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from typing import TYPE_CHECKING

import pytest
import rattler

from condapress._cli import main
from support import FIXTURE_CHANNEL, REALWORLD
from support.archive_edits import file_member, paths_json_for, read_archive, reindex, write_archive
from support.channel_server import PROXY_VARIABLES, ChannelServer
from support.conda_archives import Package, index
from support.presses import (
    LIBGREET,
    LIBGREETPP,
    PRESS,
    Run,
    Workspace,
    assert_refused,
    messages,
    press,
)
from support.venvs import make_venv

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

LIBEDIT = "libedit-3.1.20240808-pl5321h7949ede_0.conda"


def realworld() -> Path:
    if not REALWORLD.is_dir():
        pytest.skip("../shared/realworld is absent: the conda-forge archive tier needs it")
    return REALWORLD


# -- real archives that conda reads -------------------------------------------------------------


@pytest.mark.realworld
@pytest.mark.parametrize("name", ["lzo-2.10-h7b6447c_2.conda", "yaml-0.2.5-h7b6447c_0.conda"])
def test_anaconda_archives_with_an_empty_metadata_json(name: str, tmp_path: Path) -> None:
    root = realworld()
    run = press(
        root / "cf2024", tmp_path / "out", tmp_path / "cache", str(root / "more" / name),
        "--python", "3.10",
    )  # fmt: skip
    assert run.status == 0, run.stderr
    conda_name, version, _ = name.rsplit("-", 2)
    wheel = f"{conda_name}_conda-{version}-py3-none-manylinux_2_5_x86_64.manylinux1_x86_64.whl"
    assert run.stdout.split()[0] == str(tmp_path / "out" / wheel)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [wheel]


def _libedit_channel(root: Path, folder: Path) -> Path:
    """cf2024, plus what libedit needs and cf2024 lacks: ncurses >=6.5 and libgcc >=13.

    The ncurses is cf2024's own 6.4 archive labelled 6.5 (same sonames, libncurses.so.6 and
    libtinfo.so.6); libgcc is an empty package, as it is a system package that no wheel takes.
    """
    for subdir in ("linux-64", "noarch"):
        shutil.copytree(root / "cf2024" / subdir, folder / subdir)
    info, pkg = read_archive(folder / "linux-64" / "ncurses-6.4.20240210-h59595ed_0.conda")
    for member in info:
        if member.info.name == "info/index.json":
            member.data = json.dumps(
                {**json.loads(member.data), "version": "6.5.20240210"}
            ).encode()
    write_archive(folder / "linux-64" / "ncurses-6.5.20240210-h59595ed_0.conda", info, pkg)
    libgcc = Package(payload=[], index=index(name="libgcc", version="13.2.0", depends=[]))
    libgcc.conda(folder / "linux-64", "libgcc-13.2.0-h0_0.conda")
    asyncio.run(rattler.index.index_fs(folder, write_zst=False, write_shards=False, force=True))
    return folder


@pytest.mark.realworld
@pytest.mark.slow
def test_a_closure_with_libedit_presses_and_loads(tmp_path: Path) -> None:
    # libedit (conda-forge, rattler-build) records each link's size as its text's length.
    root = realworld()
    channel = _libedit_channel(root, tmp_path / "channel")
    archive = str(root / "more" / LIBEDIT)
    run = press(channel, tmp_path / "out", tmp_path / "cache", archive, "--python", "3.10", "--fat")
    assert run.status == 0, run.stderr
    [wheel] = (tmp_path / "out").iterdir()
    assert wheel.name == (
        "libedit_conda-3.1.20240808-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )
    assert run.stdout.split("  ")[-1] == "libedit + ncurses\n"
    venv = make_venv("3.10", tmp_path / "venv")
    venv.pip("install", "--no-deps", wheel)
    # libedit, loaded from the installed wheel, finds its ncurses through its RPATH.
    code = (
        "import ctypes, pathlib, sysconfig\n"
        "libs = pathlib.Path(sysconfig.get_paths()['purelib'], 'libedit_conda.libs')\n"
        "[lib] = libs.glob('libedit-*.so.0')\n"
        "edit = ctypes.CDLL(str(lib))\n"
        "edit.history_init.restype = ctypes.c_void_p\n"
        "print(bool(edit.history_init()))\n"
    )
    assert venv.run(venv.python, "-c", code).stdout == "True\n"


# -- every archive whose bytes decide the plan is verified ---------------------------------------

SALUTATION = "salutation-python-1.2.0-pyhd8ed1ab_0"
#: the dist-info Name a tampered copy claims: as long as the real one, "salutation".
FORGED_NAME = "evil-thing"


def _salutation_as_conda(channel: Path, *, forged: bool = False, size: int | None = None) -> Path:
    """Rewrite salutation-python as a .conda padded by a zip comment, to *size* bytes if given.

    *forged*: its dist-info says ``Name: evil-thing``. Without *size*, the channel's repodata
    lists the new file instead of the .tar.bz2.
    """
    noarch = channel / "noarch"
    noarch.mkdir(exist_ok=True)
    info, pkg = read_archive(FIXTURE_CHANNEL / "noarch" / f"{SALUTATION}.tar.bz2")
    if forged:
        for member in pkg:
            if member.info.name.endswith(".dist-info/METADATA"):
                member.data = member.data.replace(b"Name: salutation\n", b"Name: evil-thing\n")
        info = paths_json_for(info, pkg)
    path = noarch / f"{SALUTATION}.conda"
    write_archive(path, info, pkg)
    padding = 1000 if size is None else size - path.stat().st_size
    with zipfile.ZipFile(path, "a") as zf:
        zf.comment = b"x" * padding
    assert size is None or path.stat().st_size == size
    if size is None:
        (noarch / f"{SALUTATION}.tar.bz2").unlink()
        repodata = json.loads((noarch / "repodata.json").read_text())
        record = repodata["packages"].pop(f"{SALUTATION}.tar.bz2")
        repodata["packages.conda"][path.name] = record
        (noarch / "repodata.json").write_text(json.dumps(repodata))
        reindex(path)
    return path


def plan(channel: str | Path, cache: Path, *argv: str) -> Run:
    """``condapress plan -c CHANNEL --cache-dir CACHE ARGV...`` in this process."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["plan", "-c", str(channel), "--cache-dir", str(cache), *argv])
    return Run(status, stdout.getvalue(), stderr.getvalue().splitlines())


def _requires(run: Run) -> list[str]:
    assert run.status == 0, run.stderr
    wheel = run.stdout.split()[0]
    with zipfile.ZipFile(wheel) as zf:
        [metadata] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        lines = zf.read(metadata).decode().splitlines()
    return [line for line in lines if line.startswith("Requires-Dist:")]


def test_a_tampered_local_archive_never_decides_the_plan(channel: Path, tmp_path: Path) -> None:
    # salutation-python is pygreet's python dependency: its dist-info Name is the
    # Requires-Dist. A copy of the same size with another Name must not become the wheel's.
    original = _salutation_as_conda(channel)
    expected = hashlib.sha256(original.read_bytes()).hexdigest()
    assert _requires(press(channel, tmp_path / "out", tmp_path / "cache", *PRESS)) == [
        "Requires-Dist: salutation>=1.2"
    ]
    _salutation_as_conda(channel, forged=True, size=original.stat().st_size)
    got = hashlib.sha256(original.read_bytes()).hexdigest()
    for run in (
        press(channel, tmp_path / "out2", tmp_path / "cache", *PRESS),
        plan(channel, tmp_path / "cache", *PRESS),
    ):
        assert_refused(
            run,
            f"error: sha256 mismatch for {SALUTATION}.conda: expected {expected}, got {got}",
            "hint: the file is not the one the channel lists; re-index the channel or fetch it"
            " again",
        )
    assert not (tmp_path / "out2").exists()


def test_a_tampered_cached_archive_is_downloaded_again(
    server: ChannelServer, channel: Path, tmp_path: Path
) -> None:
    original = _salutation_as_conda(channel)
    cache = tmp_path / "cache"
    # Pressing salutation-python itself caches it; pygreet's plan then reads it from the cache.
    assert press(server.url, tmp_path / "out", cache, "salutation-python").status == 0
    [copy] = (cache / "pkgs").glob(f"*-{SALUTATION}.conda")
    good = copy.read_bytes()
    shutil.copy(_salutation_as_conda(tmp_path, forged=True, size=len(good)), copy)
    assert len(copy.read_bytes()) == len(good)
    assert copy.read_bytes() != good
    run = press(server.url, tmp_path / "out", cache, *PRESS)
    assert _requires(run) == ["Requires-Dist: salutation>=1.2"]
    assert server.requests.count(f"GET /noarch/{SALUTATION}.conda") == 2
    assert copy.read_bytes() == good == original.read_bytes()


def test_an_archive_must_be_the_package_its_record_lists(
    channel: Path, workspace: Workspace
) -> None:
    # The bytes match the record (re-indexed), but index.json says another version.
    path = channel / "linux-64" / LIBGREET
    info, pkg = read_archive(path)
    for member in info:
        if member.info.name == "info/index.json":
            member.data = json.dumps({**json.loads(member.data), "version": "1.0.1"}).encode()
    write_archive(path, info, pkg)
    reindex(path)
    workspace.refused(
        channel,
        f"error: {LIBGREET} is not the package its channel lists: its index.json names libgreet"
        " 1.0.1 hd590300_0, the channel libgreet 1.0.0 hd590300_0",
        "hint: the channel's index does not describe this archive; re-index the channel, or"
        " report it to the channel it came from",
    )


# -- channels that hang --------------------------------------------------------------------------

TIMEOUT_HINT = (
    "hint: check your network connection and the channel URL; a slow channel or a large archive"
    " needs a larger --timeout (now 2 s)"
)


def _run(tmp_path: Path, *argv: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """``python -m condapress ARGV...``, bounded: a hang fails the test instead of stalling it."""
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    env["TMPDIR"] = str(tmp_path)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "condapress", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, time.monotonic() - start


def test_a_repodata_server_that_never_answers(server: ChannelServer, tmp_path: Path) -> None:
    server.faults = {f"{subdir}/repodata.json": ["hang"] for subdir in ("linux-64", "noarch")}
    argv = ["plan", *PRESS, "-c", server.url, "--cache-dir", str(tmp_path / "cache")]
    done, took = _run(tmp_path, *argv, "--timeout", "2")
    assert (done.returncode, done.stdout) == (1, "")
    assert messages(done.stderr.splitlines()) == [
        f"error: cannot read repodata from {server.url}: no complete answer within 2 s",
        (
            "hint: check your network connection and the channel URL; a slow channel needs a"
            " larger --timeout (now 2 s)"
        ),
    ]
    assert took < 15


@pytest.mark.parametrize("fault", ["hang", "trickle"])
def test_an_archive_that_never_arrives(fault: str, server: ChannelServer, tmp_path: Path) -> None:
    # Accepted and never answered; or sent a byte every 0.2 s, so that no read ever times out.
    server.faults = {f"linux-64/{LIBGREET}": [fault]}
    out, cache = tmp_path / "out", tmp_path / "cache"
    argv = [*PRESS, "-c", server.url, "-o", str(out), "--cache-dir", str(cache)]
    done, took = _run(tmp_path, *argv, "--timeout", "2")
    assert (done.returncode, done.stdout) == (1, "")
    url = f"{server.url}/linux-64/{LIBGREET}"
    assert messages(done.stderr.splitlines()) == [
        f"error: could not download {url}: no complete answer within 2 s",
        TIMEOUT_HINT,
    ]
    assert took < 15  # the repodata, 2 s for the archive, the interpreter
    assert not out.exists()
    assert not [p for p in (cache / "pkgs").iterdir() if p.name.endswith(LIBGREET)]


def test_a_dropped_connection_is_tried_again_within_the_deadline(
    server: ChannelServer, tmp_path: Path
) -> None:
    # A reset, then a connection that never answers: the second try ends at the deadline.
    server.faults = {f"linux-64/{LIBGREET}": ["reset", "hang"]}
    argv = [*PRESS, "-c", server.url, "-o", str(tmp_path / "out"), "--cache-dir"]
    done, _ = _run(tmp_path, *argv, str(tmp_path / "cache"), "--timeout", "2")
    url = f"{server.url}/linux-64/{LIBGREET}"
    lines = messages(done.stderr.splitlines())
    assert lines[0].startswith(f"WARNING: downloading {url} failed (")
    assert lines[0].endswith("); trying again")
    assert lines[1:] == [
        f"error: could not download {url}: no complete answer within 2 s (tried 2 times)",
        TIMEOUT_HINT,
    ]
    assert server.requests.count(f"GET /linux-64/{LIBGREET}") == 2


def test_a_connection_closed_early_is_tried_again(
    server: ChannelServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Half the body and a clean close: a dropped connection, not another file.
    server.faults = {f"linux-64/{LIBGREET}": ["short"]}
    run = press(server.url, tmp_path / "out", tmp_path / "cache", *PRESS)
    assert run.status == 0, run.stderr
    size = (FIXTURE_CHANNEL / "linux-64" / LIBGREET).stat().st_size
    assert [r.getMessage() for r in caplog.records if r.name == "condapress.unpack"] == [
        (
            f"downloading {server.url}/linux-64/{LIBGREET} failed (the connection closed with"
            f" {size - size // 2} bytes still to come); trying again"
        )
    ]
    assert server.requests.count(f"GET /linux-64/{LIBGREET}") == 2


# -- a full disk is not a damaged archive --------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs; the test is skipped where this user may not mount one (not root)."""
    folder = tmp_path / "small"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs", str(folder)]
    done = subprocess.run(mount, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({done.stderr.strip()}): needs root or CAP_SYS_ADMIN")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _with_a_big_file(path: Path, data: bytes, placeholder: str | None = None) -> None:
    """Add share/big.bin (*data*) to the archive at *path*, listed in paths.json; re-index it.

    With *placeholder*, paths.json lists the file as a text file holding that build prefix.
    """
    info, pkg = read_archive(path)
    big = file_member("share/big.bin", data)
    for member in info:
        if member.info.name == "info/paths.json":
            paths = json.loads(member.data)
            entry = {"_path": big.info.name, "path_type": "hardlink"}
            if placeholder is not None:
                entry |= {"prefix_placeholder": placeholder, "file_mode": "text"}
            paths["paths"].append(entry)
            member.data = json.dumps(paths).encode()
    write_archive(path, paths_json_for(info, [*pkg, big]), [*pkg, big])
    reindex(path)


@pytest.mark.parametrize("archive", [LIBGREET, LIBGREETPP], ids=["tar_bz2", "conda"])
def test_a_full_temporary_folder(
    archive: str,
    channel: Path,
    workspace: Workspace,
    small_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _with_a_big_file(channel / "linux-64" / archive, b"\0" * (2 << 20))  # 2 MiB of zeros
    monkeypatch.setattr(tempfile, "tempdir", str(small_disk))
    # One package at a time: packages extracted side by side meet the same full disk, and the
    # one whose write fails first is reported (a small package, now and then, not the big one).
    workspace.refused(
        channel,
        f"error: cannot extract {archive}: No space left on device (last member read:"
        " 'share/big.bin')",
        f"hint: free some space in {small_disk}, or set TMPDIR to a folder on a larger file system",
        argv=(*PRESS, "-j", "1"),
    )
    assert list(small_disk.iterdir()) == []


def test_a_full_cache(
    server: ChannelServer, channel: Path, small_disk: Path, tmp_path: Path
) -> None:
    _with_a_big_file(channel / "linux-64" / LIBGREET, os.urandom(2 << 20))  # 2 MiB of noise
    run = press(server.url, tmp_path / "out", small_disk, *PRESS)
    assert_refused(
        run,
        f"error: cannot write {LIBGREET} into the cache: No space left on device",
        f"hint: free some space in {small_disk}, or pass --cache-dir with a folder on a larger"
        " file system",
    )
    assert server.requests.count(f"GET /linux-64/{LIBGREET}") == 1  # not a network failure
    # what the plan read (the root, and the python package it requires, for its own
    # METADATA) is whole and verified; nothing else is left
    left = sorted(p.name.split("-", 1)[1] for p in (small_disk / "pkgs").iterdir())
    assert left == [
        "pygreet-1.0.0-py311h26e73d1_0.conda",
        "salutation-python-1.2.0-pyhd8ed1ab_0.tar.bz2",
    ]
    assert not (tmp_path / "out").exists()


def test_a_full_output_folder(channel: Path, small_disk: Path, tmp_path: Path) -> None:
    _with_a_big_file(channel / "linux-64" / LIBGREET, os.urandom(2 << 20))  # 2 MiB of noise
    run = press(str(channel), small_disk, tmp_path / "cache", *PRESS)
    assert_refused(
        run,
        "error: cannot write pygreet-1.0.0-cp311-cp311-manylinux_2_34_x86_64.whl:"
        " No space left on device",
        f"hint: free some space in {small_disk}, or pass -o with a folder on a larger file system",
    )
    assert list(small_disk.iterdir()) == []


def test_a_full_staging_folder(
    channel: Path,
    small_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # the archive fits (it compresses), its staged copy, whose build prefix is rewritten, does
    # not (a file staged unchanged is a link to the unpacked one, which takes no space)
    prefix = "/opt/conda-bld/placeholder_" + "a" * 40
    _with_a_big_file(channel / "linux-64" / LIBGREET, prefix.encode() + b"\n" * (500 << 10), prefix)
    monkeypatch.setattr(tempfile, "tempdir", str(small_disk))
    run = press(str(channel), tmp_path / "out", tmp_path / "cache", *PRESS)
    assert_refused(
        run,
        "error: cannot write the files of pygreet: No space left on device",
        f"hint: free some space in {small_disk}, or set TMPDIR to a folder on a larger file system",
    )
    assert list(small_disk.iterdir()) == []
    assert not (tmp_path / "out").exists()


def test_a_read_only_destination(small_disk: Path) -> None:
    from condapress import unpack
    from condapress.errors import WriteError

    archive = FIXTURE_CHANNEL / "linux-64" / LIBGREETPP
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(WriteError) as exc:
        unpack.extract(archive, small_disk / "out")
    assert str(exc.value) == (
        f"cannot extract {LIBGREETPP}: Read-only file system (before its first member)"
    )
    assert exc.value.hint == (
        f"{small_disk / 'out'} cannot be written to; extract into a folder you can write to"
    )


# -- files listed without a sha256 ---------------------------------------------------------------


def test_files_without_a_sha256_are_named_in_a_warning(
    channel: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = channel / "linux-64" / LIBGREET
    info, pkg = read_archive(path)
    [paths_json] = [member for member in info if member.info.name == "info/paths.json"]
    paths = json.loads(paths_json.data)
    for entry in paths["paths"]:
        if entry["path_type"] == "hardlink":
            del entry["sha256"]
    paths_json.data = json.dumps(paths).encode()
    write_archive(path, info, pkg)
    reindex(path)
    run = press(channel, tmp_path / "out", tmp_path / "cache", *PRESS)
    assert run.status == 0, run.stderr
    # A file that a link (with its sha256 kept) resolves to is verified through the link.
    linked = {f"{m.info.name.rpartition('/')[0]}/{m.info.linkname}" for m in pkg if m.info.issym()}
    files = [e["_path"] for e in paths["paths"] if e["path_type"] == "hardlink"]
    unverified = [name for name in files if name not in linked]
    assert 0 < len(unverified) < len(files)
    assert [r.getMessage() for r in caplog.records if r.name == "condapress.unpack"] == [
        (
            f"{LIBGREET}: {len(unverified)} of its {len(files)} files have no sha256 in"
            f" paths.json, so their content could not be verified (first: {unverified[0]!r})"
        )
    ]
