"""--exclude, --rename, --add-requires and --strip on real presses: what lands, and that it runs."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import zipfile
from typing import TYPE_CHECKING

import pytest
from elftools.elf.elffile import ELFFile

from condapress import _tools
from condapress._cli import main
from support import FIXTURE_CHANNEL, REALWORLD
from support.presses import assert_refused, press
from support.venvs import make_venv

if TYPE_CHECKING:
    from pathlib import Path

WHEEL = "pygreet-1.0.0-cp311-cp311-manylinux_2_34_x86_64.whl"
CFFI = "cffi-1.16.0-cp310-cp310-manylinux_2_12_x86_64.manylinux2010_x86_64.whl"


def read(wheel: Path, suffix: str) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        [name] = [n for n in zf.namelist() if n.endswith(suffix)]
        return zf.read(name)


@pytest.mark.slow
def test_an_excluded_library_comes_from_the_system(tmp_path: Path) -> None:
    run = press(
        FIXTURE_CHANNEL, tmp_path / "out", tmp_path / "cache",
        "pygreet", "--python", "3.11", "--fat", "--exclude", "libgreet.so.*",
    )  # fmt: skip
    assert run.status == 0, run.stderr
    wheel = tmp_path / "out" / WHEEL  # the same tag: libgreet asked for no more
    with zipfile.ZipFile(wheel) as zf:
        assert not [n for n in zf.namelist() if "/libgreet-" in n]
    assert json.loads(read(wheel, "conda-packages.json"))["excluded"] == ["libgreet.so.1"]
    venv = make_venv("3.11", tmp_path / "venv")
    venv.pip("install", "--no-deps", wheel)
    code = "import pygreet; print(pygreet.libgreet_version())"
    missing = venv.run(venv.python, "-c", code, check=False)
    assert "libgreet.so.1: cannot open shared object file" in missing.stderr
    # the system's libgreet: here, the conda package's own file
    system = tmp_path / "system"
    with tarfile.open(FIXTURE_CHANNEL / "linux-64" / "libgreet-1.0.0-hd590300_0.tar.bz2") as tar:
        tar.extractall(system, filter="data")
    env = {**os.environ, "LD_LIBRARY_PATH": str(system / "lib")}
    found = subprocess.run(
        [venv.python, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert found.stdout == "1\n"


def test_the_audit_says_why_an_excluded_library_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("pygreet", "--python", "3.11", "--fat", "--exclude", "libgreet.so.*")
    run = press(FIXTURE_CHANNEL, tmp_path / "out", tmp_path / "cache", *argv)
    assert run.status == 0, run.stderr
    assert main(["audit", str(tmp_path / "out" / WHEEL)]) == 0
    report = capsys.readouterr().out.splitlines()
    assert "    needs libgreet.so.1 (excluded)" in report
    at = report.index(
        "info: pygreet.libs/bin/greet needs libgreet.so.1, which the press left out (--exclude): "
        "the system or another wheel provides it, and the platform tag does not vouch for it"
    )
    assert report[at + 1] == "  hint: make sure the target systems or a required wheel install it"
    assert "  binaries allow: manylinux_2_34_x86_64" in report


def test_renamed_and_added_requirements_land_in_metadata(tmp_path: Path) -> None:
    run = press(
        FIXTURE_CHANNEL, tmp_path / "out", tmp_path / "cache",
        "pygreet", "--python", "3.11", "--fat",
        "--rename", "salutation-python=salutation-ng", "--add-requires", "numpy>=1.26",
    )  # fmt: skip
    assert run.status == 0, run.stderr
    metadata = read(tmp_path / "out" / WHEEL, "METADATA").decode()
    assert [line for line in metadata.splitlines() if line.startswith("Requires-Dist")] == [
        "Requires-Dist: numpy>=1.26",
        "Requires-Dist: salutation-ng>=1.2",
    ]


def _debug_sections(data: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "lib.so"
    path.write_bytes(data)
    with path.open("rb") as handle:
        return [s.name for s in ELFFile(handle).iter_sections() if s.name.startswith(".debug")]


@pytest.mark.realworld
@pytest.mark.slow
def test_strip_removes_debug_sections_and_the_wheel_still_works(tmp_path: Path) -> None:
    if not REALWORLD.is_dir():
        pytest.skip("../shared/realworld is absent: the conda-forge archive tier needs it")
    argv = ("cffi", "--python", "3.10", "--fat")
    plain = press(REALWORLD / "cf2024", tmp_path / "plain", tmp_path / "cache", *argv)
    run = press(REALWORLD / "cf2024", tmp_path / "out", tmp_path / "cache", *argv, "--strip")
    assert (plain.status, run.status) == (0, 0), run.stderr
    before, after = tmp_path / "plain" / CFFI, tmp_path / "out" / CFFI
    libffi = "cffi.libs/libffi-"
    assert _debug_sections(read(before, ".so.8"), tmp_path) == [".debug_frame"]
    assert _debug_sections(read(after, ".so.8"), tmp_path) == []
    assert len(read(after, ".so.8")) < len(read(before, ".so.8"))
    document = press(
        REALWORLD / "cf2024", tmp_path / "json", tmp_path / "cache", *argv, "--strip", "--json"
    )
    [wheel] = json.loads(document.stdout)["presses"][0]["wheels"]
    saved = wheel["stripped"]  # what strip took off the files, before patchelf's edits
    assert saved > 0
    [line] = run.stdout.splitlines()
    assert line.endswith(f"cffi + libffi  (strip saved {saved / 1024:.0f} KiB)")
    assert libffi in " ".join(zipfile.ZipFile(after).namelist())
    venv = make_venv("3.10", tmp_path / "venv")
    venv.pip("install", "--no-deps", after)
    # a call into libc through libffi's ffi_call, with nothing but the wheel installed
    code = (
        "import _cffi_backend as b; i = b.new_primitive_type('int');"
        "f = b.load_library(None).load_function(b.new_function_type((i,), i, False), 'abs');"
        "print(f(-3))"
    )
    assert venv.run(venv.python, "-c", code).stdout == "3\n"


def test_strip_without_a_strip_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    _tools._strip.cache_clear()  # noqa: SLF001 - it looks once per process
    try:
        run = press(
            FIXTURE_CHANNEL, tmp_path / "out", tmp_path / "cache",
            "pygreet", "--python", "3.11", "--fat", "--strip",
        )  # fmt: skip
    finally:
        _tools._strip.cache_clear()  # noqa: SLF001
    assert_refused(
        run,
        "error: strip is not installed: --strip needs binutils' strip (or llvm-strip) on PATH",
        "hint: install binutils (apt-get install binutils, dnf install binutils), or press "
        "without --strip",
    )
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
