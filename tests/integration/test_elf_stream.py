"""_elf_stream: an ELF file streamed once (or twice) reads as read_elf reads it from disk.

read_elf on the whole file is the oracle: binaries compiled here, every ELF file of the real
conda-forge archives, and their truncations and corruptions give the same facts or the same error.
"""

from __future__ import annotations

import io
import random
import shutil
import struct
from typing import TYPE_CHECKING

import pytest

from condapress.errors import ArchiveError, TooLargeError
from condapress.formats.elf._read import is_elf, read_elf
from condapress.formats.elf._stream import MAX_ELF_TABLES, ElfCollector
from condapress.unpack import extract
from support import REALWORLD
from support.native import GREET_C, MAIN_C, ONCE_CPP, compile_source, patchelf

if TYPE_CHECKING:
    from pathlib import Path

    from condapress.model import BinaryFacts

ARCHIVES = (
    "cf2024/linux-64/libstdcxx-ng-13.2.0-h7e041cc_5.conda",
    "cf2024/linux-64/tk-8.6.13-noxft_h4845f30_101.conda",
    "cf2024/linux-64/pyyaml-6.0.1-py310h2372a71_1.conda",
    "cf2024/linux-64/xz-5.2.6-h166bdaf_0.tar.bz2",
    "cf2024/linux-64/libgcc-ng-13.2.0-h807b86a_5.conda",
    "cf2024/linux-64/cffi-1.16.0-py310h2fee648_0.conda",
)


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Binaries compiled here, one of each kind the audit meets."""
    out = tmp_path_factory.mktemp("elf")
    rpath = "-Wl,--disable-new-dtags,-rpath,$ORIGIN/../lib::/opt/greet/lib"
    built = {
        "c": compile_source("gcc", GREET_C, out / "libgreet.so", "-shared", "-fPIC", "-lm", rpath),
        "cxx": compile_source("g++", ONCE_CPP, out / "libonce.so", "-O0", "-shared", "-fPIC"),
        "program": compile_source("gcc", MAIN_C, out / "hello"),
    }
    # Without section headers, and with a DT_NEEDED longer than pyelftools' 64-byte string reads.
    stripped = out / "libstripped.so"
    shutil.copyfile(built["c"], stripped)
    patchelf("--add-needed", "lib" + "x" * 300 + ".so", stripped)
    data = bytearray(stripped.read_bytes())
    data[0x28:0x30] = bytes(8)  # e_shoff
    data[0x3C:0x40] = bytes(4)  # e_shnum, e_shstrndx
    stripped.write_bytes(bytes(data))
    built["stripped"] = stripped
    return built


@pytest.fixture(scope="module")
def conda_forge(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every ELF file of a few real conda-forge packages (libstdc++, Tcl/Tk, ncurses, ...)."""
    if not REALWORLD.is_dir():
        pytest.skip("../shared/realworld is absent: the conda-forge archive tier needs it")
    out = tmp_path_factory.mktemp("conda-forge")
    found = []
    for index, archive in enumerate(ARCHIVES):
        root = extract(REALWORLD / archive, out / str(index)).root
        found += [
            p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink() and is_elf(p)
        ]
    assert len(found) > 20
    return found


def _stream(
    data: bytes, chunk: int, *, name: str = "lib.so", whole: int = 0
) -> tuple[BinaryFacts | str, ElfCollector]:
    """The facts (or the error message) of *data* fed *chunk* bytes at a time."""
    collector = ElfCollector(name, len(data), whole=whole)
    for start in range(0, len(data), chunk):
        collector.feed(data[start : start + chunk])
    try:
        return collector.read(lambda: io.BytesIO(data)), collector
    except ArchiveError as exc:
        return exc.message, collector


def _seek(data: bytes, *, name: str = "lib.so") -> tuple[BinaryFacts | str, ElfCollector]:
    """The facts (or the error message) of *data* fed whole to a collector that may seek."""
    collector = ElfCollector(name, len(data), seekable=True)
    collector.feed(data)
    try:
        return collector.read(lambda: io.BytesIO(data)), collector
    except ArchiveError as exc:
        return exc.message, collector


def _oracle(path: Path) -> BinaryFacts | str:
    try:
        return read_elf(path)
    except ArchiveError as exc:
        return exc.message


@pytest.mark.parametrize("chunk", [97, 4096, 1 << 20])
def test_binaries_read_as_read_elf_reads_them(binaries: dict[str, Path], chunk: int) -> None:
    for kind, path in binaries.items():
        data = path.read_bytes()
        got, collector = _stream(data, chunk, name=path.name)
        assert got == read_elf(path), kind
        # The tables before the section headers cost one more pass; strings found through the
        # dynamic segment, one more.
        assert collector.passes <= (3 if kind == "stripped" else 2), kind
        assert collector.kept < len(data), kind
        got, collector = _seek(data, name=path.name)
        assert got == read_elf(path), kind
        assert (collector.passes, collector.kept) == (1, 0), kind


def test_kept_whole_or_gathered_the_facts_are_the_same(binaries: dict[str, Path]) -> None:
    data = binaries["cxx"].read_bytes()
    whole, kept_whole = _stream(data, 4096, whole=len(data))
    gathered, kept_part = _stream(data, 4096)
    assert whole == gathered
    assert (kept_whole.passes, kept_whole.kept) == (1, len(data))
    assert kept_part.kept < len(data) / 2


@pytest.mark.slow
def test_every_conda_forge_binary_reads_as_read_elf_reads_it(conda_forge: list[Path]) -> None:
    for path in conda_forge:
        data = path.read_bytes()
        for chunk in (4096, 1 << 20):
            got, collector = _stream(data, chunk, name=path.name)
            assert got == read_elf(path), path
            assert collector.passes <= 2, path
        assert _seek(data, name=path.name)[0] == read_elf(path), path


def test_truncations_and_corruptions_give_read_elf_s_error(
    binaries: dict[str, Path], tmp_path: Path
) -> None:
    data = binaries["cxx"].read_bytes()
    path = tmp_path / "libbroken.so"
    rng = random.Random(20251203)  # noqa: S311 - a fixed seed: the same corruptions every run
    variants = [data[:size] for size in range(0, len(data), 997)]
    for _ in range(40):
        corrupt = bytearray(data)
        for _ in range(rng.choice([1, 4, 16])):
            corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
        variants.append(bytes(corrupt))
    for variant in variants:
        path.write_bytes(variant)
        if len(variant) >= 4 and is_elf(path):
            assert _stream(variant, 4096, name=path.name)[0] == _oracle(path)
            assert _seek(variant, name=path.name)[0] == _oracle(path)


def _claiming_huge_dynsym(data: bytes, size: int) -> tuple[bytes, int]:
    """*data* (an ELF-64 library) with its .dynsym claiming *size* bytes; the zeros to append
    for the file to hold them."""
    patched = bytearray(data)
    e_shoff, e_shentsize, e_shnum = (
        struct.unpack_from("<Q", data, 0x28)[0],
        *struct.unpack_from("<HH", data, 0x3A),
    )
    for index in range(e_shnum):
        at = e_shoff + index * e_shentsize
        if struct.unpack_from("<I", data, at + 4)[0] == 11:  # SHT_DYNSYM
            struct.pack_into("<Q", patched, at + 32, size)
            offset = struct.unpack_from("<Q", data, at + 24)[0]
            return bytes(patched), max(0, offset + size - len(data))
    raise AssertionError("no .dynsym")


def test_tables_beyond_the_limit_are_refused_without_reading_them(
    binaries: dict[str, Path],
) -> None:
    entries = MAX_ELF_TABLES // 24 + 1  # ELF-64 symbols are 24 bytes
    data, zeros = _claiming_huge_dynsym(binaries["c"].read_bytes(), entries * 24)
    collector = ElfCollector("demo/libhuge.so", len(data) + zeros)
    block, fed = bytes(1 << 20), []

    def stream() -> None:
        collector.feed(data)
        for _ in range(zeros // len(block)):
            collector.feed(block)
            fed.append(len(block))

    with pytest.raises(TooLargeError) as info:
        stream()
    assert fed == []  # refused as soon as the section headers were held, not at the end
    assert collector.kept < 1 << 20
    assert info.value.message == (
        "demo/libhuge.so: its ELF tables need more than the 256 MiB condapress reads of one file"
    )
    assert info.value.code == "too-large"


def test_a_collector_that_may_seek_refuses_the_same_tables_without_reading_them(
    binaries: dict[str, Path],
) -> None:
    entries = MAX_ELF_TABLES // 24 + 1
    data, zeros = _claiming_huge_dynsym(binaries["c"].read_bytes(), entries * 24)
    collector = ElfCollector("demo/libhuge.so", len(data) + zeros, seekable=True)
    collector.feed(data)  # the zeros are never read: the file opened again ends before them
    with pytest.raises(TooLargeError) as info:
        collector.read(lambda: io.BytesIO(data))
    assert info.value.message == (
        "demo/libhuge.so: its ELF tables need more than the 256 MiB condapress reads of one file"
    )
