"""The PE format: reading, renaming imports, platform tags, system DLLs, Windows layout rules.

Every file is a real one from tests/data/win-64; pefile, which the product also uses, is the
reader of what was written, together with delvewheel's own lists where they are the oracle.
"""

from __future__ import annotations

import io
import json
import os
import sys
from importlib import resources
from pathlib import Path

import pefile
import pytest

from condapress import formats
from condapress.errors import (
    BinaryError,
    MixedArchitecturesError,
    PolicyViolation,
    RelocationError,
    SpecError,
    TooLargeError,
)
from condapress.formats.pe import PE
from condapress.formats.pe._edit import rename_imports
from condapress.formats.pe._read import PeCollector, is_pe, parse_pe
from condapress.formats.pe._system import is_system_dll, platform_tag
from condapress.model import (
    BinaryEdit,
    BinaryFacts,
    CondaRecord,
    ConsoleScript,
    PackageInfo,
    PathEntry,
    PathType,
    PlatformVerdict,
    UnpackedPackage,
)
from condapress.relocate import _hook, _windows
from condapress.retag import extension_names, python_tags
from support import REPO
from support.conda_archives import archive_member
from support.factories import binary_facts

CONDA_FORGE = REPO / "tests" / "data" / "win-64" / "conda-forge" / "win-64"
ANACONDA = REPO / "tests" / "data" / "win-64" / "anaconda-main" / "win-64"
PYD_PATH = "Lib/site-packages/yaml/_yaml.cp39-win_amd64.pyd"


@pytest.fixture(scope="module")
def pyd() -> bytes:
    return archive_member(CONDA_FORGE / "pyyaml-5.4.1-py39hb82d6ee_1.tar.bz2", PYD_PATH)


@pytest.fixture(scope="module")
def signed_pyd() -> bytes:
    """zstandard's backend_c: Anaconda signed it (a certificate table after the sections)."""
    path = "Lib/site-packages/zstandard/backend_c.cp311-win_amd64.pyd"
    return archive_member(ANACONDA / "zstandard-0.23.0-py311h4fc1ca9_1.conda", path)


def pe_facts(
    machine: str = "amd64",
    *,
    dll: bool = True,
    soname: str | None = None,
    needed: tuple[str, ...] = (),
) -> BinaryFacts:
    return binary_facts(*needed, soname=soname, shared=dll, machine=machine, kind="PE")


def imports(data: bytes) -> list[str]:
    pe = pefile.PE(data=data)
    return [entry.dll.decode() for entry in pe.DIRECTORY_ENTRY_IMPORT]


def sections(data: bytes) -> dict[bytes, pefile.SectionStructure]:
    return {s.Name.rstrip(b"\0"): s for s in pefile.PE(data=data, fast_load=True).sections}


def test_a_pyd_is_read_with_its_imports_in_lower_case(pyd: bytes, tmp_path: Path) -> None:
    path = tmp_path / "_yaml.cp39-win_amd64.pyd"
    path.write_bytes(pyd)
    assert PE.read(path) == pe_facts(
        soname="_yaml.cp39-win_amd64.pyd",
        needed=(
            "yaml.dll",
            "python39.dll",
            "kernel32.dll",
            "vcruntime140.dll",
            "api-ms-win-crt-runtime-l1-1-0.dll",
        ),
    )


def test_a_program_is_an_executable_and_a_dll_calls_itself_what_it_likes() -> None:
    zstd = ANACONDA / "zstd-1.5.6-h8880b57_0.conda"
    program = parse_pe(archive_member(zstd, "Library/bin/zstd.exe"), "zstd.exe")
    assert (program.is_executable, program.is_shared, program.soname) == (True, False, None)
    assert program.needed[:2] == ("zlib.dll", "liblz4.dll")
    library = parse_pe(archive_member(zstd, "Library/bin/libzstd.dll"), "libzstd.dll")
    assert library.soname == "zstd.dll"  # the export directory's name, not the file's
    assert PE.link_name("Library/bin/libzstd.dll", library) == "libzstd.dll"


def test_an_export_name_that_is_no_file_name_is_not_kept(pyd: bytes) -> None:
    # The export directory's name is only reported: an odd one is dropped, not a reason to fail.
    assert pyd.count(b"_yaml.cp39-win_amd64.pyd\0") == 1
    odd = pyd.replace(b"_yaml.cp39-win_amd64.pyd\0", b"../ym.cp39-win_amd64.pyd\0")
    facts = parse_pe(odd, "x.pyd")
    assert (facts.soname, facts.needed) == (None, parse_pe(pyd, "x.pyd").needed)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Library/bin/yaml.dll", "yaml.dll"),
        ("Library/bin/Yaml.DLL", "yaml.dll"),
        ("zlib.dll", "zlib.dll"),
        ("Library/mingw-w64/bin/libgfortran-3.dll", "libgfortran-3.dll"),
        ("Scripts/helper.dll", "helper.dll"),
        ("Library/plugins/platforms/qwindows.dll", None),
        ("Lib/site-packages/pkg/helper.dll", None),
        ("Library/bin/yaml.pyd", None),
    ],
)
def test_the_link_name_of_a_dll_is_its_file_name_in_a_folder_on_conda_s_path(
    path: str, expected: str | None
) -> None:
    assert PE.link_name(path, pe_facts()) == expected


def test_a_program_has_no_link_name() -> None:
    assert PE.link_name("Library/bin/zstd.exe", pe_facts(dll=False)) is None


def test_only_a_pe_image_is_taken_for_one(pyd: bytes) -> None:
    assert is_pe(pyd[:1024])
    assert formats.for_head(pyd[:1024]) is PE
    assert not is_pe(b"MZ" + bytes(0x3A) + (0x40).to_bytes(4, "little") + b"NE\0\0")
    assert not is_pe(b"MZ, said the text file, and went on for a while")
    assert formats.for_head(b"\x7fELF\x02\x01\x01") is not PE


@pytest.mark.parametrize(
    ("cut", "reason"),
    [
        (100, "Invalid e_lfanew value, probably not a PE file"),
        (4096, "it is truncated: its sections end at byte 183,296, the file at 4,096"),
    ],
)
def test_a_damaged_pe_file_is_refused(pyd: bytes, cut: int, reason: str) -> None:
    with pytest.raises(BinaryError) as caught:
        parse_pe(pyd[:cut], "x.pyd")
    assert caught.value.message == f"x.pyd is not a valid PE file: {reason}"


def test_the_audit_reader_gives_the_same_facts_and_refuses_a_huge_file(pyd: bytes) -> None:
    collector = PeCollector("x.pyd", len(pyd))
    for start in range(0, len(pyd), 10_000):
        collector.feed(pyd[start : start + 10_000])
    assert collector.read(lambda: pytest.fail("one pass is enough")) == parse_pe(pyd, "x.pyd")
    small = PeCollector("big.dll", 5000, limit=4096)
    with pytest.raises(TooLargeError) as caught:
        small.feed(bytes(100))
    assert caught.value.message == (
        "big.dll is a PE file of 5,000 bytes, more than the 4,096 condapress reads"
    )


def test_a_reader_that_may_seek_keeps_nothing_and_has_the_same_limit(pyd: bytes) -> None:
    collector = PeCollector("x.pyd", len(pyd), seekable=True)
    for start in range(0, len(pyd), 10_000):
        collector.feed(pyd[start : start + 10_000])
    # the bytes read are those of the file opened again (here: one byte changed in a name)
    opened = pyd.replace(b"yaml.dll", b"yaml.dlx")
    assert collector.read(lambda: io.BytesIO(opened)) == parse_pe(opened, "x.pyd")
    assert parse_pe(opened, "x.pyd") != parse_pe(pyd, "x.pyd")
    small = PeCollector("big.dll", 5000, limit=4096, seekable=True)
    with pytest.raises(TooLargeError) as caught:
        small.feed(bytes(100))
    assert caught.value.message == (
        "big.dll is a PE file of 5,000 bytes, more than the 4,096 condapress reads"
    )


def test_a_rename_fits_in_the_padding_and_changes_nothing_else(pyd: bytes) -> None:
    edited = rename_imports(pyd, {"yaml.dll": "yaml-0123abcd.dll"})
    assert imports(edited) == ["yaml-0123abcd.dll", *imports(pyd)[1:]]
    assert len(edited) == len(pyd)
    before, after = sections(pyd), sections(edited)
    assert after[b".text"].get_data() == before[b".text"].get_data()
    # next fit: the first data section with padding takes the name, and grows over it
    grown = after[b".rdata"].Misc_VirtualSize - before[b".rdata"].Misc_VirtualSize
    assert grown == len("yaml-0123abcd.dll") + 1
    header = pefile.PE(data=edited, fast_load=True).OPTIONAL_HEADER
    assert header.SizeOfImage == pefile.PE(data=pyd, fast_load=True).OPTIONAL_HEADER.SizeOfImage


def test_a_name_too_long_for_the_padding_goes_into_a_new_section(pyd: bytes) -> None:
    name = "y" * 2000 + ".dll"
    edited = rename_imports(pyd, {"yaml.dll": name})
    pe = pefile.PE(data=edited)
    new = pe.sections[-1]
    assert new.Name == b".cpnames"
    assert pe.FILE_HEADER.NumberOfSections == len(sections(pyd)) + 1
    assert new.get_data()[: len(name) + 1] == name.encode() + b"\0"
    assert pe.get_string_at_rva(pe.DIRECTORY_ENTRY_IMPORT[0].struct.Name, 4096) == name.encode()
    assert new.SizeOfRawData % pe.OPTIONAL_HEADER.FileAlignment == 0
    assert len(edited) == len(pyd) + new.SizeOfRawData
    end = new.VirtualAddress + new.Misc_VirtualSize
    assert pe.OPTIONAL_HEADER.SizeOfImage == -(-end // 0x1000) * 0x1000
    assert pe.get_warnings() == []


def test_a_signature_the_rename_voids_is_dropped_and_the_checksum_redone(
    signed_pyd: bytes,
) -> None:
    security = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]
    before = pefile.PE(data=signed_pyd, fast_load=True)
    table = before.OPTIONAL_HEADER.DATA_DIRECTORY[security]
    assert table.VirtualAddress + table.Size == len(signed_pyd)
    edited = rename_imports(signed_pyd, {"zstd.dll": "zstd-0123abcd.dll"})
    after = pefile.PE(data=edited)
    assert len(edited) == table.VirtualAddress
    assert after.OPTIONAL_HEADER.DATA_DIRECTORY[security].Size == 0
    assert after.OPTIONAL_HEADER.CheckSum == after.generate_checksum()
    assert after.OPTIONAL_HEADER.CheckSum != before.OPTIONAL_HEADER.CheckSum


def test_a_file_with_data_after_its_sections_and_no_padding_is_refused(
    pyd: bytes, tmp_path: Path
) -> None:
    source = tmp_path / "x.pyd"
    source.write_bytes(pyd + b"symbols a linker appended")
    edit = BinaryEdit("pkg/x.pyd", replace_needed=(("yaml.dll", "y" * 2000 + ".dll"),))
    with pytest.raises(RelocationError) as caught:
        PE.apply_edit(source, edit, tmp_path / "out.pyd")
    assert caught.value.message == (
        "cannot rewrite pkg/x.pyd for the wheel: its sections have no padding for the new "
        "names, and 25 bytes that are no signature follow them (a new section would come "
        "after them)"
    )
    assert caught.value.hint == (
        "report this with the package name; condapress renames a PE file's imports in its "
        "section padding or a new section, and keeps no data after its sections"
    )
    assert not (tmp_path / "out.pyd").exists()


def test_renaming_an_import_the_file_lacks_is_refused(pyd: bytes, tmp_path: Path) -> None:
    source = tmp_path / "x.pyd"
    source.write_bytes(pyd)
    edit = BinaryEdit("pkg/x.pyd", replace_needed=(("zstd.dll", "zstd-1.dll"),))
    with pytest.raises(RelocationError) as caught:
        PE.apply_edit(source, edit, None)
    assert caught.value.message == (
        "cannot rewrite pkg/x.pyd for the wheel: it does not import zstd.dll"
    )
    assert source.read_bytes() == pyd


def test_the_platform_tag_is_the_architecture_s() -> None:
    verdict = platform_tag({"a.pyd": pe_facts("amd64")})
    assert verdict == PlatformVerdict("win_amd64", (), "win", (), arch="amd64", rank=1)
    assert platform_tag({"a.pyd": pe_facts("x86")}).tag == "win32"
    assert PE.requested(verdict, "win_amd64") == verdict
    with pytest.raises(SpecError) as caught:
        PE.requested(verdict, "win_arm64")
    assert caught.value.message == "'win_arm64' is not the platform tag of amd64 Windows binaries"
    assert caught.value.hint == "ask for win_amd64, or leave --plat out"
    with pytest.raises(MixedArchitecturesError) as mixed:
        platform_tag({"a.pyd": pe_facts("amd64"), "b.dll": pe_facts("arm64")})
    assert mixed.value.message == "b.dll is built for arm64, but the wheel is for amd64"
    with pytest.raises(PolicyViolation) as odd:
        platform_tag({"a.dll": pe_facts("machine-0x01c4")})
    assert (
        odd.value.message == "a.dll is built for machine-0x01c4, which no wheel platform tag names"
    )


def test_the_system_dll_list_is_delvewheel_s() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import update_windows_dlls
    finally:
        sys.path.remove(str(REPO / "scripts"))
    shipped = resources.files("condapress") / "data" / "windows_dlls.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == update_windows_dlls.table()
    for name in ("kernel32.dll", "USER32.dll", "python312.dll", "python3.dll", "msvcp140.dll"):
        assert is_system_dll(name, "amd64"), name
    for name in ("yaml.dll", "libzstd.dll", "libgfortran-3.dll", "zlib.dll"):
        assert not is_system_dll(name, "amd64"), name


def test_a_subdir_of_no_implemented_format_is_refused() -> None:
    assert [formats.for_subdir(s).name for s in ("linux-64", "osx-arm64", "win-64")] == [
        "ELF",
        "Mach-O",
        "PE",
    ]
    with pytest.raises(SpecError) as caught:
        formats.for_subdir("freebsd-64")
    assert caught.value.message == (
        "condapress cannot press wheels for freebsd-64 yet: only linux-*, osx-*, win-* are "
        "implemented"
    )
    assert caught.value.hint == (
        "press for one of: linux-64, linux-aarch64, linux-ppc64le, linux-s390x, osx-64, "
        "osx-arm64, win-64"
    )


def test_windows_extension_modules_give_the_python_tags() -> None:
    assert python_tags(["yaml/_yaml.cp39-win_amd64.pyd"]) == ("cp39", "cp39")
    assert python_tags(["a.cp313t-win_arm64.pyd"]) == ("cp313", "cp313t")
    stable = pe_facts(needed=("python3.dll",))
    assert python_tags(extension_names({"pkg/_speedups.pyd": stable}), ">=3.8") == ("cp38", "abi3")


# --- the Windows rules of the layout


def _package(*paths: str) -> UnpackedPackage:
    entries = tuple(PathEntry(path, PathType.HARDLINK) for path in paths)
    info = PackageInfo(CondaRecord("demo", "1.0", "0", 0, "win-64", ()), entries)
    return UnpackedPackage(info, Path("/nonexistent"), Path("demo-1.0-0.conda"))


_BATCH = "batch script: it runs programs by their place in a conda environment"
_ROOT_COPY = "copy of Library/bin/zlib.dll at the prefix root, where conda's python.exe finds it"
_CONDA_LAUNCHER = (
    "conda's launcher of the entry point demo: pip writes its own from the entry points of the "
    "wheel"
)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("Library/include/zstd.h", "header (development file)"),
        ("Library/lib/zstd.lib", "import or static library (development file)"),
        ("Library/cmake/yamlConfig.cmake", "build-system file (development file)"),
        ("Library/lib/pkgconfig/libzstd.pc", "build-system file (development file)"),
        ("Library/bin/zstd.pdb", "debug symbols (development file)"),
        ("Menu/demo.json", "start-menu shortcut of a conda environment (menuinst)"),
        ("Library/bin/demo-config.bat", _BATCH),
        ("zlib.dll", _ROOT_COPY),
        ("Scripts/demo.exe", _CONDA_LAUNCHER),
        ("Scripts/demo-script.py", _CONDA_LAUNCHER),
        ("Library/bin/zlib.dll", None),
        ("Library/bin/zstd.exe", None),
        ("Scripts/tool.exe", None),
        ("Library/share/demo/data.txt", None),
    ],
)  # fmt: skip
def test_what_a_windows_package_leaves_out(path: str, why: str | None) -> None:
    package = _package(path, "Library/bin/zlib.dll", "Scripts/demo.exe", "Scripts/demo-script.py")
    entry = next(e for e in package.info.paths if e.path == path)
    assert _windows.left_out(entry, package) == why


def test_the_hook_adds_the_dll_folders_that_are_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "demo.libs").mkdir()
    script = ConsoleScript("tool", "demo._condapress_env", "_run_tool", "demo.libs/tool.exe")
    source = _hook.hook_source((), ("demo.libs", "other.libs"), (script,))
    added: list[str] = []
    monkeypatch.setattr(os, "add_dll_directory", added.append, raising=False)
    namespace: dict[str, object] = {"__file__": str(tmp_path / "demo" / "_condapress_env.py")}
    exec(compile(source, "_condapress_env.py", "exec"), namespace)  # noqa: S102 - our own output
    # other.libs (a wheel it requires) is not installed: a folder that is not there is left
    assert added == [str(tmp_path / "demo.libs")]
    assert callable(namespace["_run_tool"])


def test_without_os_add_dll_directory_the_hook_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "demo.libs").mkdir()
    monkeypatch.delattr(os, "add_dll_directory", raising=False)
    namespace: dict[str, object] = {"__file__": str(tmp_path / "demo" / "_condapress_env.py")}
    exec(compile(_hook.hook_source((), ("demo.libs",)), "hook", "exec"), namespace)  # noqa: S102
    assert namespace["_DLL_HANDLES"] == []
