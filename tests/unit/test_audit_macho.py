"""condapress audit of wheels with Mach-O files: loads, LC_RPATH, signatures and macOS tags.

The wheels are made here from real conda-forge binaries (tests/data/macos), edited with the
Mach-O format's own edit where a case needs it, or spoiled byte by byte.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import TYPE_CHECKING

import jsonschema
import pytest

from condapress._datapaths import NOWHERE, replace_placeholder
from condapress.audit import audit_document, audit_text, audit_wheel
from condapress.formats.macho import MACHO
from condapress.model import BinaryEdit, FileMode, Level
from support.macho_oracle import extract_binaries, lief_binary
from support.wheels import make_wheel, only

if TYPE_CHECKING:
    from pathlib import Path

EXT = "yaml/_yaml.cpython-312-darwin.so"
LIB = "demo.libs/libyaml-0.2-1a2b3c4d.dylib"
LOADS_LIB = "@loader_path/../demo.libs/libyaml-0.2-1a2b3c4d.dylib"
ARM = ("cp312-cp312-macosx_11_0_arm64",)


@pytest.fixture(scope="module")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return extract_binaries(tmp_path_factory.mktemp("macho"))


def edited(source: Path, edit: BinaryEdit, out: Path) -> bytes:
    MACHO.apply_edit(source, edit, out)
    return out.read_bytes()


def placeholder_rewritten(source: Path, out: Path) -> Path:
    """*source* with its build-prefix placeholder rewritten, as the press does before editing."""
    root = next(p for p in source.parents if (p / "info" / "paths.json").is_file())
    paths = json.loads((root / "info" / "paths.json").read_text())["paths"]
    entry = next(e for e in paths if root / e["_path"] == source)
    data = replace_placeholder(
        source.read_bytes(), entry["prefix_placeholder"], NOWHERE, FileMode.BINARY
    )[0]
    out.write_bytes(data)
    return out


@pytest.fixture
def pressed(binaries: dict[str, Path], tmp_path: Path) -> dict[str, bytes]:
    """The extension and its library, edited as a press edits them."""
    ext = BinaryEdit(
        EXT,
        remove_rpath=True,
        replace_needed=(("@rpath/libyaml-0.2.dylib", LOADS_LIB),),
        sign=True,
    )
    lib = BinaryEdit(
        LIB, remove_rpath=True, set_soname="@rpath/libyaml-0.2-1a2b3c4d.dylib", sign=True
    )
    source = placeholder_rewritten(binaries["_yaml"], tmp_path / "conda.so")
    return {
        EXT: edited(source, ext, tmp_path / "ext.so"),
        LIB: edited(binaries["libyaml"], lib, tmp_path / "lib.dylib"),
    }


def test_a_wheel_made_as_condapress_makes_it_is_clean(
    pressed: dict[str, bytes], tmp_path: Path
) -> None:
    report = audit_wheel(make_wheel(tmp_path, pressed, tags=ARM))
    assert report.findings == ()
    assert report.verdict.tag == "macosx_11_0_arm64"
    assert report.libraries[1].needed == (
        (LOADS_LIB, "wheel"),
        ("/usr/lib/libSystem.B.dylib", "system"),
    )
    assert audit_text(report).splitlines()[1:15] == [
        "  claims: cp312-cp312-macosx_11_0_arm64",
        "  binaries allow: macosx_11_0_arm64",
        "",
        f"  {LIB}",
        "    needs /usr/lib/libSystem.B.dylib (system)",
        "    minimum macOS: 11.0",
        "    code signature: arm64: valid",
        "",
        f"  {EXT}",
        f"    needs {LOADS_LIB} (wheel)",
        "    needs /usr/lib/libSystem.B.dylib (system)",
        "    minimum macOS: 11.0",
        "    code signature: arm64: valid",
        "",
    ]
    document = audit_document([report])
    schema = json.loads(files("condapress").joinpath("data/audit-schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["wheels"][0]["libraries"][0]["signature"] == "arm64: valid"


def test_conda_binaries_as_they_are_fail(binaries: dict[str, Path], tmp_path: Path) -> None:
    payload = {EXT: binaries["_yaml"].read_bytes(), LIB: binaries["libyaml"].read_bytes()}
    report = audit_wheel(make_wheel(tmp_path, payload, tags=ARM))
    outside = only(report, "rpath-outside-wheel")
    assert outside.message == (
        f"{EXT} has the LC_RPATH entry @loader_path/../../../, which leads to ../.., outside "
        "the wheel"
    )
    unreachable = only(report, "unreachable-library")
    assert unreachable.level is Level.WARNING
    assert unreachable.message == (
        f"{EXT} needs @rpath/libyaml-0.2.dylib, which the wheel has at {LIB}, but neither "
        f"@loader_path nor an LC_RPATH entry of {EXT} (or of what loads it) leads there"
    )
    assert [f.code for f in report.findings] == [
        "build-prefix",  # the placeholders that conda rewrites at install time
        "rpath-outside-wheel",
        "unreachable-library",
    ]


def test_a_load_nothing_provides(binaries: dict[str, Path], tmp_path: Path) -> None:
    report = audit_wheel(make_wheel(tmp_path, {EXT: binaries["_yaml"].read_bytes()}, tags=ARM))
    finding = only(report, "missing-library")
    assert finding.message == (
        f"{EXT} needs @rpath/libyaml-0.2.dylib, which is neither in the wheel nor a macOS system "
        "library"
    )
    assert finding.hint == "bundle it in the wheel (condapress --fat, auditwheel repair)"
    assert report.libraries[0].needed[0] == ("@rpath/libyaml-0.2.dylib", "missing")


def test_an_rpath_load_that_no_rpath_reaches(
    binaries: dict[str, Path], pressed: dict[str, bytes], tmp_path: Path
) -> None:
    ext = edited(binaries["_yaml"], BinaryEdit(EXT, remove_rpath=True, sign=True), tmp_path / "e")
    lib = "demo.libs/libyaml-0.2.dylib"
    report = audit_wheel(make_wheel(tmp_path, {EXT: ext, lib: pressed[LIB]}, tags=ARM))
    finding = only(report, "unreachable-library")
    assert finding.message == (
        f"{EXT} needs @rpath/libyaml-0.2.dylib, which the wheel has at {lib}, but neither "
        f"@loader_path nor an LC_RPATH entry of {EXT} (or of what loads it) leads there"
    )


def test_an_absolute_install_name(binaries: dict[str, Path], tmp_path: Path) -> None:
    absolute = (("@rpath/libyaml-0.2.dylib", "/opt/yaml/libyaml.dylib"),)
    edit = BinaryEdit(EXT, remove_rpath=True, replace_needed=absolute, sign=True)
    ext = edited(binaries["_yaml"], edit, tmp_path / "e")
    finding = only(audit_wheel(make_wheel(tmp_path, {EXT: ext}, tags=ARM)), "install-name-absolute")
    assert finding.level is Level.ERROR
    assert finding.message == (
        f"{EXT} loads /opt/yaml/libyaml.dylib by an absolute path, which is no macOS system library"
    )
    assert finding.hint == (
        "load it by @loader_path/<path from the binary to the library> (install_name_tool "
        "-change), with the library in the wheel"
    )


def test_an_edit_without_signing_again_breaks_the_signature(
    binaries: dict[str, Path], tmp_path: Path
) -> None:
    edit = BinaryEdit(LIB, remove_rpath=True)  # sign=False: the page hashes are left stale
    data = edited(binaries["libyaml"], edit, tmp_path / "lib")
    report = audit_wheel(make_wheel(tmp_path, {LIB: data}, tags=ARM))
    finding = only(report, "bad-signature")
    assert finding.message == (
        f"{LIB}: the code signature of its arm64 code does not verify: 1 of its 34 page hashes "
        "(SHA-256) are wrong"
    )
    assert finding.hint == "sign it again (codesign -f -s -): an edit after signing broke it"
    assert report.libraries[0].signature == "arm64: invalid"


def test_unsigned_arm64_code_is_an_error(binaries: dict[str, Path], tmp_path: Path) -> None:
    binary = lief_binary(binaries["libyaml"])
    binary.remove_signature()
    binary.write(str(tmp_path / "unsigned.dylib"))
    data = (tmp_path / "unsigned.dylib").read_bytes()
    report = audit_wheel(make_wheel(tmp_path, {LIB: data}, tags=ARM))
    finding = only(report, "unsigned-binary")
    assert finding.message == (
        f"{LIB} has no code signature for arm64: macOS on Apple silicon refuses to load unsigned "
        "code"
    )
    assert finding.hint == "sign it ad hoc (codesign -s -) after its last edit"
    # x86_64 code needs no signature
    x86 = audit_wheel(
        make_wheel(
            tmp_path,
            {"demo.libs/libffi.8.dylib": binaries["libffi_x86_64"].read_bytes()},
            tags=("py3-none-macosx_10_9_x86_64",),
        )
    )
    assert x86.findings == ()


@pytest.mark.parametrize(
    ("tag", "code", "message"),
    [
        ("macosx_10_9_arm64", "overclaimed-tag",
         "claims macosx_10_9_arm64 but its binaries need macosx_11_0_arm64"),
        ("macosx_12_0_arm64", "underclaimed-tag",
         "claims macosx_12_0_arm64 but its binaries allow macosx_11_0_arm64"),
        ("macosx_11_0_x86_64", "wrong-architecture",
         "claims macosx_11_0_x86_64 but its binaries are built for arm64"),
        ("manylinux_2_17_aarch64", "wrong-architecture",
         "claims manylinux_2_17_aarch64 but its binaries are built for arm64"),
    ],
)  # fmt: skip
def test_claimed_macos_tags_against_the_binaries(
    tag: str, code: str, message: str, pressed: dict[str, bytes], tmp_path: Path
) -> None:
    report = audit_wheel(make_wheel(tmp_path, pressed, tags=(f"cp312-cp312-{tag}",)))
    assert only(report, code).message == message


def test_a_broken_mach_o_file_is_named_as_such(binaries: dict[str, Path], tmp_path: Path) -> None:
    data = binaries["libyaml"].read_bytes()[:100]
    finding = only(audit_wheel(make_wheel(tmp_path, {LIB: data}, tags=ARM)), "bad-macho")
    assert finding.message.startswith(f"{LIB} is not a valid Mach-O file: its load commands (")
    assert finding.hint == "rebuild the wheel: dyld cannot use a truncated or corrupt binary"


def test_a_later_tag_is_explained_by_the_wheels_it_loads_from(
    pressed: dict[str, bytes], tmp_path: Path
) -> None:
    later = ("cp312-cp312-macosx_12_0_arm64",)
    # all its libraries in the wheel: requiring another wheel explains nothing
    fat = audit_wheel(make_wheel(tmp_path, pressed, tags=later, requires=("pycparser",)))
    assert only(fat, "underclaimed-tag").message == (
        "claims macosx_12_0_arm64 but its binaries allow macosx_11_0_arm64"
    )
    # its library in the wheel it requires (split mode), which may be tagged later
    split = audit_wheel(make_wheel(tmp_path, {EXT: pressed[EXT]}, tags=later, requires=("y==1",)))
    assert only(split, "tag-from-required-wheels").message == (
        "claims macosx_12_0_arm64, less than its own binaries allow (macosx_11_0_arm64): it "
        f"loads {LOADS_LIB} from the wheels it requires (y==1), whose tags bound its own"
    )
