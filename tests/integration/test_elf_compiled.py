"""formats.elf._read: ELF facts read with pyelftools from binaries compiled here; readelf agrees."""

from __future__ import annotations

import platform
import random
import re
import shutil
import struct
import subprocess
from typing import TYPE_CHECKING

import pytest

from condapress.errors import ArchiveError
from condapress.formats.elf._read import _STD_SYMBOL, is_elf, max_versions, read_elf
from support.native import GREET_C, MAIN_C, ONCE_CPP, compile_source

if TYPE_CHECKING:
    from pathlib import Path


def _readelf_version_needs(path: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if shutil.which("readelf") is None:
        pytest.skip("readelf is not installed: it is the oracle for symbol versions")
    text = subprocess.run(
        ["readelf", "-V", "--wide", str(path)], capture_output=True, text=True, check=True
    ).stdout
    section = text.split("Version needs section", 1)[1]
    needs: dict[str, list[str]] = {}
    library = ""
    for line in section.splitlines():
        if m := re.search(r"File: (\S+)", line):
            library = m[1]
            needs[library] = []
        elif m := re.search(r"Name: (\S+)", line):
            needs[library].append(m[1])
    return tuple((lib, tuple(sorted(needs[lib]))) for lib in sorted(needs))


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("elf")


@pytest.fixture(scope="module")
def c_lib(build: Path) -> Path:
    return compile_source(
        "gcc",
        GREET_C,
        build / "libgreet.so",
        "-shared",
        "-fPIC",
        "-lm",
        "-Wl,-soname,libgreet.so.1",
        "-Wl,--disable-new-dtags,-rpath,$ORIGIN/../lib::/opt/greet/lib",
    )


@pytest.fixture(scope="module")
def cxx_lib(build: Path) -> Path:
    return compile_source(
        "g++",
        ONCE_CPP,
        build / "libonce.so",
        "-O0",
        "-shared",
        "-fPIC",
        "-Wl,-soname,libonce.so.1",
        "-Wl,--enable-new-dtags,-rpath,$ORIGIN",
    )


def test_c_library(c_lib: Path) -> None:
    elf = read_elf(c_lib)
    assert elf.machine == platform.machine()
    assert (elf.is_shared, elf.is_executable) == (True, False)
    assert elf.soname == "libgreet.so.1"
    assert "libm.so.6" in elf.needed
    assert "libc.so.6" in elf.needed
    assert elf.rpath == ("$ORIGIN/../lib", "/opt/greet/lib")
    assert elf.runpath == ()
    assert elf.interpreter is None
    assert elf.exported_weak_std == ()
    assert elf.exported_global_std == ()
    assert elf.uses_cxx11_abi is False


def test_version_needs_match_readelf(c_lib: Path, cxx_lib: Path) -> None:
    for path in (c_lib, cxx_lib):
        elf = read_elf(path)
        assert elf.version_needs == _readelf_version_needs(path)
        assert elf.version_needs == tuple(sorted(elf.version_needs))


def test_max_versions_compares_numerically(cxx_lib: Path) -> None:
    elf = read_elf(cxx_lib)
    expected: dict[str, str] = {}
    for _, names in _readelf_version_needs(cxx_lib):
        for name in names:
            prefix, _, version = name.partition("_")
            if prefix in {"GLIBC", "GLIBCXX", "CXXABI", "GCC"} and re.fullmatch(r"[\d.]+", version):
                old = expected.get(prefix)
                if old is None or [int(p) for p in version.split(".")] > [
                    int(p) for p in old.split(".")
                ]:
                    expected[prefix] = version
    assert max_versions(elf) == expected
    assert {"GLIBC", "GLIBCXX"} <= set(expected)


def test_cxx_library_exports_weak_std_symbols(cxx_lib: Path) -> None:
    elf = read_elf(cxx_lib)
    assert elf.runpath == ("$ORIGIN",)
    assert elf.rpath == ()
    assert "libstdc++.so.6" in elf.needed
    assert elf.exported_weak_std, "call_once's machinery should be exported weak"
    assert all(_STD_SYMBOL.match(name.encode()) for name in elf.exported_weak_std)
    assert any("once_flag" in name for name in elf.exported_weak_std)
    # init_once() itself is weak and exported too, but it is not in namespace std.
    assert "_Z9init_oncev" not in elf.exported_weak_std
    assert elf.exported_weak_std == tuple(sorted(elf.exported_weak_std))
    assert elf.uses_cxx11_abi is True


def test_old_cxx_abi_is_told_apart(build: Path) -> None:
    path = compile_source(
        "g++",
        ONCE_CPP,
        build / "libonce-old-abi.so",
        "-shared",
        "-fPIC",
        "-D_GLIBCXX_USE_CXX11_ABI=0",
    )
    assert read_elf(path).uses_cxx11_abi is False


def test_std_symbols_kept_local_are_not_exported(build: Path) -> None:
    # libstdc++'s headers give namespace std default visibility, so -fvisibility=hidden does not
    # hide these; a version script does.
    script = build / "greet.map"
    script.write_text("{ global: _Z5greet*; local: *; };\n")
    path = compile_source(
        "g++",
        ONCE_CPP,
        build / "libonce-local.so",
        "-O0",
        "-shared",
        "-fPIC",
        f"-Wl,--version-script={script}",
    )
    elf = read_elf(path)
    assert elf.exported_weak_std == ()
    assert elf.exported_global_std == ()


def test_visibility_and_binding_of_std_symbols(build: Path) -> None:
    source = """
    namespace std {
    __attribute__((weak, visibility("protected"))) int weak_protected = 1;
    __attribute__((weak, visibility("hidden"))) int weak_hidden = 2;
    int strong_default = 3;
    }
    extern "C" __attribute__((weak)) int weak_c = 4;
    """
    elf = read_elf(compile_source("g++", source, build / "libvis.so", "-shared", "-fPIC"))
    assert elf.exported_weak_std == ("_ZSt14weak_protected",)
    assert elf.exported_global_std == ("_ZSt14strong_default",)


@pytest.mark.parametrize("pie", ["-pie", "-no-pie"])
def test_executables(build: Path, pie: str) -> None:
    path = compile_source("gcc", MAIN_C, build / f"hello{pie}", pie)
    elf = read_elf(path)
    assert (elf.is_shared, elf.is_executable) == (False, True)
    assert elf.interpreter is not None
    assert elf.interpreter.startswith("/")
    assert elf.soname is None
    assert "libc.so.6" in elf.needed


def test_truncated_elf_file(c_lib: Path, tmp_path: Path) -> None:
    data = c_lib.read_bytes()
    # The extent the ELF-64 header describes, decoded here independently of pyelftools.
    e_phoff, e_shoff = struct.unpack_from("<QQ", data, 0x20)
    e_phentsize, e_phnum, e_shentsize, e_shnum = struct.unpack_from("<HHHH", data, 0x36)
    extent = max(e_phoff + e_phnum * e_phentsize, e_shoff + e_shnum * e_shentsize)
    path = tmp_path / "libtrunc.so"
    path.write_bytes(data[:100])
    assert is_elf(path) is True
    with pytest.raises(ArchiveError) as info:
        read_elf(path)
    assert str(info.value) == (
        f"libtrunc.so is not a valid ELF file: it is truncated (100 bytes, its headers need "
        f"{extent})"
    )
    path.write_bytes(data[:40])
    with pytest.raises(ArchiveError) as info:
        read_elf(path)
    assert str(info.value) == (
        "libtrunc.so is not a valid ELF file: it is truncated (40 bytes, shorter than an ELF "
        "header)"
    )


def test_every_truncation_is_an_archive_error(c_lib: Path, tmp_path: Path) -> None:
    data = c_lib.read_bytes()
    path = tmp_path / "libcut.so"
    for size in range(0, len(data), 97):
        path.write_bytes(data[:size])
        with pytest.raises(ArchiveError):
            read_elf(path)


def test_corruption_never_escapes_as_another_exception(cxx_lib: Path, tmp_path: Path) -> None:
    data = cxx_lib.read_bytes()
    rng = random.Random(20240601)  # noqa: S311 - a fixed seed: the same corruptions every run
    path = tmp_path / "libcorrupt.so"
    reasons = []
    for _ in range(300):
        corrupt = bytearray(data)
        for _ in range(rng.choice([1, 4, 16])):
            corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
        path.write_bytes(bytes(corrupt))
        try:
            read_elf(path)
        except ArchiveError as exc:
            reasons.append(exc.message)
    assert reasons
    assert all(r.startswith("libcorrupt.so is not a valid ELF file: ") for r in reasons)


def test_32_bit_library(build: Path) -> None:
    # No libc for -m32 on most hosts: -nostdlib, and std:: names spelled with asm labels.
    source = """
    int foo __asm__("_ZSt3foo") = 1;
    __attribute__((weak)) int bar __asm__("_ZNSt3barE") = 2;
    """
    out = build / "libthirtytwo.so"
    try:
        compile_source(
            "gcc", source, out, "-m32", "-shared", "-fPIC", "-nostdlib", "-Wl,-soname,lib32.so"
        )
    except subprocess.CalledProcessError:
        pytest.skip("gcc cannot build 32-bit code here")
    elf = read_elf(out)
    assert (elf.machine, elf.soname, elf.needed) == ("i686", "lib32.so", ())
    assert elf.exported_weak_std == ("_ZNSt3barE",)
    assert elf.exported_global_std == ("_ZSt3foo",)


def test_without_section_headers_the_dynamic_segment_is_read(c_lib: Path, tmp_path: Path) -> None:
    data = bytearray(c_lib.read_bytes())
    data[0x28:0x30] = bytes(8)  # e_shoff
    data[0x3C:0x40] = bytes(4)  # e_shnum, e_shstrndx
    path = tmp_path / "libstripped.so"
    path.write_bytes(bytes(data))
    elf = read_elf(path)
    assert elf.soname == "libgreet.so.1"
    assert elf.needed == read_elf(c_lib).needed
    assert elf.rpath == ("$ORIGIN/../lib", "/opt/greet/lib")
    # .gnu.version_r and .dynsym are found through section headers only
    assert (elf.version_needs, elf.exported_weak_std) == ((), ())


@pytest.mark.parametrize(
    ("e_machine", "machine"),
    [(21, "ppc64le"), (22, "s390x"), (183, "aarch64"), (8, "mips"), (0x1234, "em_4660")],
)
def test_machine_names(c_lib: Path, tmp_path: Path, e_machine: int, machine: str) -> None:
    data = bytearray(c_lib.read_bytes())
    struct.pack_into("<H", data, 18, e_machine)
    path = tmp_path / "libother.so"
    path.write_bytes(bytes(data))
    assert read_elf(path).machine == machine
