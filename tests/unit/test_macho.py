"""The Mach-O format: reader, signature check, edits and tags, on real binaries made by others.

The binaries come from the conda archives of ``tests/data/macos`` (conda-forge's arm64 ones signed
by Apple's tools on conda-forge's machines, Anaconda's x86_64 ones unsigned) and from
``tests/data/macho`` (a universal library linked and signed by LLVM's ld64.lld, and a library
that delocate repaired and Apple's ``codesign`` signed again). lief and the page-hash check of
``tests/macho_oracle.py`` are the oracles.
"""

from __future__ import annotations

import functools
import io
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from condapress.errors import (
    BinaryError,
    MixedArchitecturesError,
    PolicyViolation,
    RelocationError,
    SpecError,
    TooLargeError,
    UnresolvedLibraryError,
)
from condapress.formats import for_head, for_subdir
from condapress.formats.macho import MACHO, _read
from condapress.formats.macho._policy import platform_tag
from condapress.model import BinaryEdit, BinaryFacts, MachoSlice, WheelSpec
from condapress.relocate._layout import mangle, plan_layout
from condapress.retag import python_tags
from support.factories import binary_facts, hardlink, record, softlink, unpacked
from support.macho_oracle import (
    TEST_BINARIES,
    code_signature_states,
    extract_binaries,
    lief_binary,
    lief_slices,
)

if TYPE_CHECKING:
    from condapress.model import PathEntry, UnpackedPackage

SIGNED_BY_OTHERS = ["_yaml", "libyaml", "_cffi_arm64", "libffi_arm64", "libhello", "libwebpdemux"]


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return extract_binaries(tmp_path_factory.mktemp("macho"))


def version(minos: tuple[int, ...] | None) -> str | None:
    return None if minos is None else f"{minos[0]}.{minos[1]}"


# -- reading -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEST_BINARIES)
def test_the_reader_agrees_with_lief(name: str, binaries: dict[str, Path]) -> None:
    facts = MACHO.read(binaries[name])
    slices = lief_slices(binaries[name])
    assert [(s.arch, s.minos, s.signed) for s in facts.slices] == [
        (s.arch, version(s.minos), s.signed) for s in slices
    ]
    assert facts.soname == slices[0].install_name
    assert facts.needed == tuple(dict.fromkeys(n for s in slices for n in s.loads))
    assert facts.rpath == tuple(dict.fromkeys(r for s in slices for r in s.rpaths))
    assert facts.is_shared
    assert not facts.is_executable
    assert facts.format == "Mach-O"


def test_what_the_reader_reads_of_each_kind(binaries: dict[str, Path]) -> None:
    yaml = MACHO.read(binaries["_yaml"])
    assert (yaml.machine, yaml.soname) == ("arm64", None)
    assert yaml.needed == ("@rpath/libyaml-0.2.dylib", "/usr/lib/libSystem.B.dylib")
    assert yaml.rpath == ("@loader_path/../../../",)
    assert yaml.slices == (MachoSlice("arm64", "11.0", signed=True),)
    # the old LC_VERSION_MIN_MACOSX, and no signature (x86_64 needs none)
    assert MACHO.read(binaries["libffi_x86_64"]).slices == (
        MachoSlice("x86_64", "10.9", signed=False),
    )
    hello = MACHO.read(binaries["libhello"])
    assert hello.machine == "universal2"
    assert hello.slices == (
        MachoSlice("x86_64", "10.13", signed=False),
        MachoSlice("arm64", "11.0", signed=True),
    )


def test_the_collector_reads_a_stream_as_the_reader_reads_the_file(
    binaries: dict[str, Path],
) -> None:
    for path in binaries.values():
        data = path.read_bytes()
        fmt = for_head(data[:16])
        assert fmt is MACHO
        collector = fmt.collector(path.name, len(data))
        collector.feed(data)
        assert collector.read(functools.partial(io.BytesIO, data)) == MACHO.read(path)


def test_is_binary_tells_mach_o_from_java_classes() -> None:
    assert MACHO.is_binary(b"\xcf\xfa\xed\xfe\x0c\x00\x00\x01")
    assert MACHO.is_binary(b"\xca\xfe\xba\xbe\x00\x00\x00\x02")
    assert not MACHO.is_binary(b"\xca\xfe\xba\xbe\x00\x00\x00\x41")  # a Java 17 class file
    assert not MACHO.is_binary(b"\x7fELF\x02\x01\x01\x00")
    assert for_subdir("osx-arm64") is MACHO
    assert for_subdir("osx-64") is MACHO


@pytest.mark.parametrize("cut", [10, 100])
def test_a_truncated_file_is_refused_with_its_reason(
    cut: int, binaries: dict[str, Path], tmp_path: Path
) -> None:
    commands = lief_binary(binaries["libyaml"]).header.sizeof_cmds
    reason = {
        10: "it is truncated (10 bytes, shorter than a Mach-O header)",
        100: f"its load commands ({commands} bytes) run past the end of its slice",
    }[cut]
    path = tmp_path / "libyaml-0.2.dylib"
    path.write_bytes(binaries["libyaml"].read_bytes()[:cut])
    with pytest.raises(BinaryError) as caught:
        MACHO.read(path)
    assert caught.value.message == f"libyaml-0.2.dylib is not a valid Mach-O file: {reason}"


def test_hostile_load_commands_are_refused(binaries: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(binaries["libyaml"].read_bytes())
    struct.pack_into("<I", data, 32 + 4, 2)  # the first command claims 2 bytes
    path = tmp_path / "bad.dylib"
    path.write_bytes(data)
    with pytest.raises(BinaryError) as caught:
        MACHO.read(path)
    assert caught.value.message == (
        "bad.dylib is not a valid Mach-O file: its load command 0 (0x19) has a size of 2 bytes"
    )
    struct.pack_into("<I", data, 20, 1 << 30)  # sizeofcmds: 1 GiB
    path.write_bytes(data)
    with pytest.raises(TooLargeError) as too_large:
        MACHO.read(path)
    assert too_large.value.message == (
        f"bad.dylib: its load commands claim {1 << 30} bytes, more than {16 << 20}"
    )


# -- code signatures made by others ----------------------------------------------------------


@pytest.mark.parametrize("name", SIGNED_BY_OTHERS)
def test_signatures_made_by_others_verify(name: str, binaries: dict[str, Path]) -> None:
    data = binaries[name].read_bytes()
    states = code_signature_states(data)
    assert states["arm64"].startswith("valid")
    facts = MACHO.read(binaries[name])
    assert [s.signature_problem for s in facts.slices] == [None] * len(facts.slices)


def test_the_libffi_signature_has_two_code_directories(binaries: dict[str, Path]) -> None:
    # a SHA-1 CodeDirectory and a SHA-256 alternate, as codesign wrote them in 2021
    assert code_signature_states(binaries["libffi_arm64"].read_bytes()) == {
        "arm64": "valid (2 CodeDirectories)"
    }


def test_one_changed_byte_breaks_the_signature(binaries: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(binaries["libyaml"].read_bytes())
    data[0x4010] ^= 1
    path = tmp_path / "libyaml.dylib"
    path.write_bytes(data)
    assert code_signature_states(bytes(data)) == {"arm64": "invalid: page 4 hash"}
    [piece] = _read.layout(io.BytesIO(bytes(data)), len(data))
    assert piece.signature is not None
    pages = -(-piece.signature[0] // 4096)  # the code before the signature, in 4 KiB pages
    assert MACHO.read(path).slices[0].signature_problem == (
        f"1 of its {pages} page hashes (SHA-256) are wrong"
    )


# -- edits, and the signature hashed again ----------------------------------------------------


def test_an_extension_edited_for_the_wheel(binaries: dict[str, Path], tmp_path: Path) -> None:
    source = binaries["_yaml"]
    dest = "yaml/_yaml.cpython-312-darwin.so"
    providers = {"@rpath/libyaml-0.2.dylib": ("pyyaml.libs", "libyaml-0.2-1a2b3c4d.dylib")}
    edit = MACHO.plan_edit(dest, MACHO.read(source), None, providers)
    new = "@loader_path/../pyyaml.libs/libyaml-0.2-1a2b3c4d.dylib"
    assert edit == BinaryEdit(
        dest, remove_rpath=True, replace_needed=(("@rpath/libyaml-0.2.dylib", new),), sign=True
    )
    output = tmp_path / "_yaml.so"
    MACHO.apply_edit(source, edit, output)
    [edited] = lief_slices(output)
    assert edited.loads == (new, "/usr/lib/libSystem.B.dylib")
    assert edited.rpaths == ()
    assert output.stat().st_size == source.stat().st_size  # in place: nothing moved
    assert code_signature_states(output.read_bytes()) == {"arm64": "valid (1 CodeDirectories)"}
    assert code_signature_states(source.read_bytes()) == {"arm64": "valid (1 CodeDirectories)"}


def test_a_library_loses_its_build_prefix_rpath_and_gets_its_new_name(
    binaries: dict[str, Path], tmp_path: Path
) -> None:
    source = binaries["libffi_arm64"]
    facts = MACHO.read(source)
    assert any("_h_env_placehold" in entry for entry in facts.rpath)
    link = MACHO.link_name("lib/libffi.8.dylib", facts)
    assert link == "@rpath/libffi.8.dylib"
    providers = {link: ("cffi.libs", "libffi.8-0a1b2c3d.dylib")}
    edit = MACHO.plan_edit("cffi.libs/libffi.8-0a1b2c3d.dylib", facts, link, providers)
    assert (edit.set_soname, edit.remove_rpath, edit.replace_needed) == (
        "@rpath/libffi.8-0a1b2c3d.dylib",
        True,
        (),
    )
    output = tmp_path / "libffi.dylib"
    MACHO.apply_edit(source, edit, output)
    [edited] = lief_slices(output)
    assert (edited.install_name, edited.rpaths) == ("@rpath/libffi.8-0a1b2c3d.dylib", ())
    assert b"_h_env_placehold" not in output.read_bytes()[:4096]  # gone with its command
    assert code_signature_states(output.read_bytes()) == {"arm64": "valid (2 CodeDirectories)"}


def test_every_slice_of_a_universal_file_is_edited(
    binaries: dict[str, Path], tmp_path: Path
) -> None:
    output = tmp_path / "libhello.dylib"
    edit = BinaryEdit("x.libs/libhello.dylib", set_soname="@rpath/libhello.1-0a1b2c3d.dylib")
    MACHO.apply_edit(binaries["libhello"], replace_edit(edit, sign=True), output)
    assert [s.install_name for s in lief_slices(output)] == ["@rpath/libhello.1-0a1b2c3d.dylib"] * 2
    assert code_signature_states(output.read_bytes()) == {
        "x86_64": "unsigned",
        "arm64": "valid (1 CodeDirectories)",
    }


def replace_edit(edit: BinaryEdit, *, sign: bool) -> BinaryEdit:
    return BinaryEdit(edit.dest, edit.set_rpath, edit.remove_rpath, edit.replace_needed,
                      edit.set_soname, sign)  # fmt: skip


def test_an_edit_that_does_not_fit_the_header_is_refused(
    binaries: dict[str, Path], tmp_path: Path
) -> None:
    source = binaries["_yaml"]
    [before] = lief_slices(source)
    name = "@loader_path/" + "x" * 20000 + ".dylib"
    edit = BinaryEdit("yaml/_yaml.so", replace_needed=(("@rpath/libyaml-0.2.dylib", name),))
    binary = lief_binary(source)
    room = min(s.offset for s in binary.sections if s.offset) - 32 - binary.header.sizeof_cmds
    old = next(c.size for c in binary.commands if getattr(c, "name", "") == before.loads[0])
    growth = 24 + len(name) + 8 - len(name) % 8 - old
    with pytest.raises(RelocationError) as caught:
        MACHO.apply_edit(source, edit, tmp_path / "out.so")
    assert caught.value.message == (
        f"cannot rewrite yaml/_yaml.so for the wheel: its new load commands need {growth} more "
        f"bytes, and its header has room for {room} (link it with -headerpad_max_install_names)"
    )
    assert caught.value.hint == (
        "report this with the package name: condapress edits Mach-O files only in place, and "
        "signs again only ad hoc signatures"
    )


def test_a_signature_with_a_certificate_is_not_signed_again(
    binaries: dict[str, Path], tmp_path: Path
) -> None:
    data = bytearray(binaries["libyaml"].read_bytes())
    [piece] = _read.layout(io.BytesIO(bytes(data)), len(data))
    assert piece.signature is not None
    start = piece.signature[0]
    count = struct.unpack_from(">I", data, start + 8)[0]
    for i in range(count):
        kind, offset = struct.unpack_from(">II", data, start + 12 + 8 * i)
        if kind == 0x10000:  # the CMS wrapper: pretend it holds a certificate's signature
            struct.pack_into(">I", data, start + offset + 4, 64)
    source = tmp_path / "libyaml.dylib"
    source.write_bytes(data)
    with pytest.raises(RelocationError) as caught:
        MACHO.apply_edit(source, BinaryEdit("x.libs/libyaml.dylib", sign=True), None)
    assert caught.value.message == (
        "cannot rewrite x.libs/libyaml.dylib for the wheel: it is signed with a certificate, "
        "which only its owner can sign again"
    )


# -- tags and system libraries -----------------------------------------------------------------


def facts_of(soname: str | None, needed: tuple[str, ...], rpath: tuple[str, ...],
             arch: str, slices: tuple[MachoSlice, ...]) -> BinaryFacts:  # fmt: skip
    return binary_facts(
        *needed, soname=soname, rpath=rpath, machine=arch, kind="Mach-O", slices=slices
    )


def macho(arch: str, *slices: tuple[str, str | None]) -> BinaryFacts:
    pieces = tuple(MachoSlice(a, minos, signed=a == "arm64") for a, minos in slices)
    return facts_of(None, (), (), arch, pieces)


@pytest.mark.parametrize(
    ("facts", "tag", "limits"),
    [
        ([macho("arm64", ("arm64", "11.0"))], "macosx_11_0_arm64", ()),
        # pip knows macOS 11 and later by their major version only
        ([macho("arm64", ("arm64", "11.3")), macho("arm64", ("arm64", "12.1"))],
         "macosx_12_0_arm64",
         ("b.so needs macOS 12.1 (its minimum version)",
          "a.so needs macOS 11.3 (its minimum version)")),
        ([macho("x86_64", ("x86_64", "10.15")), macho("x86_64", ("x86_64", "10.9"))],
         "macosx_10_15_x86_64", ("a.so needs macOS 10.15 (its minimum version)",)),
        ([macho("x86_64", ("x86_64", None))], "macosx_10_9_x86_64", ()),
        # a universal2 tag names the Intel minimum: every arm64 Mac runs 11.0 or later
        ([macho("universal2", ("x86_64", "10.13"), ("arm64", "11.0"))],
         "macosx_10_13_universal2", ("a.so needs macOS 10.13 (its minimum version)",)),
    ],
)  # fmt: skip
def test_the_tag_is_the_highest_minimum_macos(
    facts: list[BinaryFacts], tag: str, limits: tuple[str, ...]
) -> None:
    verdict = MACHO.platform({f"{'ab'[i]}.so": f for i, f in enumerate(facts)}, ())
    assert (verdict.tag, verdict.limits, verdict.aliases) == (tag, limits, ())


def test_the_binaries_of_a_wheel_share_one_architecture() -> None:
    with pytest.raises(MixedArchitecturesError) as caught:
        platform_tag({"a.so": macho("arm64", ("arm64", "11.0")), "b.so": macho("x86_64")})
    assert caught.value.message == "b.so is built for x86_64, but the wheel is for arm64"


def test_a_requested_tag_is_honoured_or_refused() -> None:
    verdict = MACHO.platform({"a.so": macho("x86_64", ("x86_64", "10.15"))}, ())
    assert MACHO.requested(verdict, "macosx_11_0_x86_64").tag == "macosx_11_0_x86_64"
    assert MACHO.requested(verdict, "macosx_10_15_x86_64") == verdict
    with pytest.raises(PolicyViolation) as older:
        MACHO.requested(verdict, "macosx_10_9_x86_64")
    assert older.value.message == (
        "the binaries cannot be tagged macosx_10_9_x86_64: a.so needs macOS 10.15 "
        "(its minimum version)"
    )
    assert older.value.hint == (
        "the most compatible tag they allow is macosx_10_15_x86_64; ask for that with --plat"
    )
    with pytest.raises(SpecError) as minor:
        MACHO.requested(verdict, "macosx_11_3_x86_64")
    assert (minor.value.message, minor.value.hint) == (
        "'macosx_11_3_x86_64' is not a tag pip installs: from macOS 11 on, tags are X_0",
        "ask for macosx_11_0_x86_64",
    )
    with pytest.raises(SpecError) as other:
        MACHO.requested(verdict, "manylinux_2_17_x86_64")
    assert (other.value.message, other.value.hint) == (
        "'manylinux_2_17_x86_64' is not a platform tag for x86_64",
        "ask for a tag such as macosx_11_0_x86_64, or leave --plat out",
    )


def test_system_libraries_are_those_under_usr_lib_and_system() -> None:
    system = MACHO.is_system_library
    assert system("/usr/lib/libSystem.B.dylib", "arm64")
    assert system("/usr/lib/libc++.1.dylib", "arm64")
    assert system("/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation", "x86_64")
    # conda's own libc++ is bundled, as delocate bundles every library outside those folders
    assert not system("@rpath/libc++.1.dylib", "arm64")
    assert not system("/usr/local/lib/libyaml.dylib", "arm64")


def test_darwin_extension_names_give_the_python_tags() -> None:
    names = ["yaml/_yaml.cpython-312-darwin.so", "pyyaml.libs/libyaml-0.2-1a2b3c4d.dylib"]
    assert python_tags(names) == ("cp312", "cp312")
    assert python_tags(["_cffi_backend.abi3.so"], ">=3.9") == ("cp39", "abi3")


# -- the wheel layout planned for Mach-O files (pure) -------------------------------------------


def dylib(soname: str | None, *needed: str, rpath: tuple[str, ...] = ()) -> BinaryFacts:
    return facts_of(soname, needed, rpath, "arm64", (MachoSlice("arm64", "11.0", signed=True),))


def package(name: str, sha: str, *entries: PathEntry) -> UnpackedPackage:
    return unpacked(record(name, sha256=sha), *entries, root=Path("/nonexistent") / name)


hard, soft = hardlink, softlink
SITE = "lib/python3.12/site-packages"
SYSTEM = "/usr/lib/libSystem.B.dylib"


def test_the_layout_of_an_extension_and_its_library() -> None:
    packages = {
        "pyyaml": package("pyyaml", "b" * 64, hard(f"{SITE}/yaml/_yaml.cpython-312-darwin.so")),
        "yaml": package("yaml", "a" * 64, hard("lib/libyaml-0.2.dylib"), soft("lib/libyaml.dylib")),
    }
    facts = {
        "pyyaml": {
            f"{SITE}/yaml/_yaml.cpython-312-darwin.so": dylib(
                None, "@rpath/libyaml-0.2.dylib", SYSTEM, rpath=("@loader_path/../../../",)
            )
        },
        "yaml": {"lib/libyaml-0.2.dylib": dylib("@rpath/libyaml-0.2.dylib", SYSTEM)},
    }
    layout = plan_layout(WheelSpec("PyYAML", "6.0.3", ("pyyaml", "yaml")), packages, facts, MACHO)
    lib = mangle("@rpath/libyaml-0.2.dylib", "a" * 64)
    assert lib.startswith("libyaml-0.2-")
    assert lib.endswith(".dylib")
    assert [p.dest for p in layout.placements] == [
        "yaml/_yaml.cpython-312-darwin.so",
        f"pyyaml.libs/{lib}",
    ]
    assert layout.binary_edits == (
        BinaryEdit(
            "yaml/_yaml.cpython-312-darwin.so",
            remove_rpath=True,
            replace_needed=(("@rpath/libyaml-0.2.dylib", f"@loader_path/../pyyaml.libs/{lib}"),),
            sign=True,
        ),
        BinaryEdit(f"pyyaml.libs/{lib}", set_soname=f"@rpath/{lib}", sign=True),
    )
    assert [(o.path, o.reason) for o in layout.left_out] == [
        (
            "lib/libyaml.dylib",
            "symbolic link (the wheel keeps one file per library, under its soname)",
        )
    ]


def test_a_library_in_site_packages_stays_beside_its_module_under_its_own_name() -> None:
    module, inner = f"{SITE}/pkg/_ext.cpython-312-darwin.so", f"{SITE}/pkg/libinner.1.0.dylib"
    packages = {"pkg": package("pkg", "c" * 64, hard(module), hard(inner))}
    facts = {
        "pkg": {
            module: dylib(None, "@rpath/libinner.1.dylib", rpath=("@loader_path",)),
            inner: dylib("@rpath/libinner.1.dylib"),
        }
    }
    layout = plan_layout(WheelSpec("pkg", "1.0", ("pkg",)), packages, facts, MACHO)
    assert [p.dest for p in layout.placements] == [
        "pkg/_ext.cpython-312-darwin.so",
        "pkg/libinner.1.dylib",
    ]
    assert layout.binary_edits[0].replace_needed == (
        ("@rpath/libinner.1.dylib", "@loader_path/libinner.1.dylib"),
    )


def test_a_load_that_nothing_provides_stops_the_layout() -> None:
    module = f"{SITE}/pkg/_ext.cpython-312-darwin.so"
    packages = {"pkg": package("pkg", "c" * 64, hard(module))}
    facts = {"pkg": {module: dylib(None, "@rpath/libgone.dylib", SYSTEM)}}
    with pytest.raises(UnresolvedLibraryError) as caught:
        plan_layout(WheelSpec("pkg", "1.0", ("pkg",)), packages, facts, MACHO)
    assert caught.value.message == (
        f"pkg-1.0-h0_0.conda: {module} needs @rpath/libgone.dylib, which no package of the closure "
        "provides and "
        "macOS does not have"
    )
