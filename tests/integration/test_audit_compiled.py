"""audit: wheels made here with zipfile around binaries compiled here, one finding at a time."""

from __future__ import annotations

import json
import shutil
from importlib.resources import files
from typing import TYPE_CHECKING

import jsonschema
import pytest

from condapress.audit import audit_document, audit_text, audit_wheel
from condapress.model import Level
from support.native import ONCE_CPP, compile_source, patchelf
from support.wheels import codes, make_wheel, only

if TYPE_CHECKING:
    from pathlib import Path

DEMO_C = """
#include <string.h>
void demo_copy(char *d, const char *s, size_t n) { memcpy(d, s, n); }
"""
DEP_C = "int dep_value(void) { return 42; }\n"
USES_DEP_C = "int dep_value(void);\nint uses_dep(void) { return dep_value() + 1; }\n"
PLACEHOLDER_C = 'const char *demo_prefix = "/opt/anaconda1anaconda2anaconda3/share/demo";\n'


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Shared libraries compiled once for the module, by name."""
    out = tmp_path_factory.mktemp("libs")

    def build(name: str, source: str, compiler: str = "gcc", *args: str) -> Path:
        flags = ("-O0", "-shared", "-fPIC", f"-Wl,-soname,lib{name}.so")
        return compile_source(compiler, source, out / f"lib{name}.so", *flags, *args)

    built = {
        "demo": build("demo", DEMO_C),
        "dep": build("dep", DEP_C),
        "placeholder": build("placeholder", PLACEHOLDER_C),
        "once": build("once", ONCE_CPP, "g++"),
    }
    built["usesdep"] = build("usesdep", USES_DEP_C, "gcc", f"-L{out}", "-ldep")
    return built


def _with_rpath(lib: Path, tmp_path: Path, rpath: str, *, force: bool = True) -> bytes:
    copy = tmp_path / lib.name
    shutil.copyfile(lib, copy)
    patchelf(*(["--force-rpath"] if force else []), "--set-rpath", rpath, copy)
    return copy.read_bytes()


LINUX = ("cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64")


@pytest.mark.slow
def test_a_c_library_has_no_cxx_finding(tmp_path: Path, libs: dict[str, Path]) -> None:
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libdemo.so": libs["demo"].read_bytes()}, tags=LINUX)
    )
    assert report.findings == ()
    assert report.verdict.tag == "manylinux_2_17_x86_64"
    (lib,) = report.libraries
    assert lib.path == "demo/libdemo.so"
    assert lib.needed == (("libc.so.6", "system"),)
    assert lib.max_versions == (("GLIBC", "2.14"),)
    assert (lib.exported_weak_std, lib.exported_global_std, lib.cxx11_abi) == (0, 0, False)


@pytest.mark.slow
def test_an_absolute_rpath_is_an_error(tmp_path: Path, libs: dict[str, Path]) -> None:
    data = _with_rpath(libs["demo"], tmp_path, "/usr/local/demo/lib")
    report = audit_wheel(make_wheel(tmp_path, {"demo/libdemo.so": data}, tags=LINUX))
    finding = only(report, "rpath-absolute")
    assert finding.level is Level.ERROR
    assert finding.message == "demo/libdemo.so has the absolute RPATH entry /usr/local/demo/lib"
    assert finding.hint == (
        "use an entry relative to $ORIGIN (patchelf --set-rpath) or @loader_path "
        "(install_name_tool -rpath)"
    )
    assert report.libraries[0].rpath == ("/usr/local/demo/lib",)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rpath", "requires", "code", "message"),
    [
        (
            "/opt/anaconda1anaconda2anaconda3/lib",
            (),
            "rpath-placeholder",
            (
                "demo/libdemo.so has the RUNPATH entry /opt/anaconda1anaconda2anaconda3/lib, which "
                "holds a conda prefix placeholder"
            ),
        ),
        (
            "$ORIGIN/../../lib",
            (),
            "rpath-outside-wheel",
            (
                "demo/libdemo.so has the RUNPATH entry $ORIGIN/../../lib, which leads to ../lib, "
                "outside the wheel"
            ),
        ),
        (
            "$ORIGIN/../numpy.libs",
            (),
            "rpath-outside-wheel",
            (
                "demo/libdemo.so has the RUNPATH entry $ORIGIN/../numpy.libs, which leads to "
                "numpy.libs, outside the wheel"
            ),
        ),
        (
            "$ORIGIN/../numpy.libs",
            ("numpy>=2",),
            "rpath-other-wheel",
            (
                "demo/libdemo.so has the RUNPATH entry $ORIGIN/../numpy.libs, which leads to "
                "numpy.libs, a folder the wheel does not have (a wheel it requires may)"
            ),
        ),
        (
            "lib",
            (),
            "rpath-cwd-relative",
            (
                "demo/libdemo.so has the RUNPATH entry lib, which the loader resolves against the "
                "current directory"
            ),
        ),
    ],
)
def test_rpath_problems(
    tmp_path: Path,
    libs: dict[str, Path],
    rpath: str,
    requires: tuple[str, ...],
    code: str,
    message: str,
) -> None:
    data = _with_rpath(libs["demo"], tmp_path, rpath, force=False)
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libdemo.so": data}, tags=LINUX, requires=requires)
    )
    # A placeholder in RPATH is also a build-prefix string in the file.
    assert set(codes(report)) - {"build-prefix"} == {code}
    assert only(report, code).message == message


@pytest.mark.slow
def test_harmless_rpath_entries_are_fine(tmp_path: Path, libs: dict[str, Path]) -> None:
    data = _with_rpath(libs["demo"], tmp_path, "$ORIGIN:${ORIGIN}/..:$ORIGIN/../demo/sub:$LIB")
    payload = {"demo/libdemo.so": data, "demo/sub/x.txt": b""}
    assert audit_wheel(make_wheel(tmp_path, payload, tags=LINUX)).findings == ()


@pytest.mark.slow
def test_a_placeholder_string_in_a_library_is_an_error(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    payload = {"demo/libplaceholder.so": libs["placeholder"].read_bytes()}
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-manylinux_2_5_x86_64",)))
    finding = only(report, "build-prefix")
    assert finding.message == (
        "demo/libplaceholder.so contains the build prefix /opt/anaconda1anaconda2anaconda3"
    )
    assert finding.hint == "press the package with condapress, or rebuild it relocatable"
    assert not report.ok


@pytest.mark.slow
def test_exported_std_symbols_of_a_cxx_library_are_a_warning(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    tags = ("py3-none-linux_x86_64",)
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libonce.so": libs["once"].read_bytes()}, tags=tags)
    )
    finding = only(report, "exported-std-symbols")
    assert finding.level is Level.WARNING
    (lib,) = report.libraries
    assert lib.exported_weak_std > 0
    assert finding.message.startswith(
        f"demo/libonce.so exports {lib.exported_weak_std} weak and {lib.exported_global_std} "
        "global symbols of namespace std, such as _Z"
    )
    assert "-Wl,--exclude-libs,ALL" in finding.hint
    assert "-fvisibility=hidden" in finding.hint
    assert report.ok  # a warning


@pytest.mark.slow
def test_a_bundled_libstdcxx_is_a_warning(tmp_path: Path, libs: dict[str, Path]) -> None:
    payload = {"demo.libs/libstdc++-1a2b3c4d.so.6.0.32": libs["dep"].read_bytes()}
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-manylinux_2_5_x86_64",)))
    assert only(report, "bundled-libstdcxx").message == (
        "demo.libs/libstdc++-1a2b3c4d.so.6.0.32 is a copy of libstdc++: two libstdc++ in one "
        "process is the crash the Arrow and TensorFlow wheels hit"
    )


@pytest.mark.slow
def test_a_truncated_elf_file_is_an_error(tmp_path: Path, libs: dict[str, Path]) -> None:
    payload = {"demo/libdemo.so": libs["demo"].read_bytes()[:200]}
    finding = only(audit_wheel(make_wheel(tmp_path, payload)), "bad-elf")
    assert finding.message.startswith("demo/libdemo.so is not a valid ELF file: it is truncated")


# --- tags ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tags", "code", "message"),
    [
        (
            ("py3-none-manylinux_2_5_x86_64", "py3-none-manylinux1_x86_64"),
            "overclaimed-tag",
            (
                "claims manylinux1_x86_64 but its binaries need manylinux_2_17_x86_64: "
                "demo/libdemo.so needs GLIBC_2.14 (from libc.so.6)"
            ),
        ),
        (
            ("py3-none-any",),
            "overclaimed-tag",
            (
                "claims any but its binaries need manylinux_2_17_x86_64: demo/libdemo.so needs "
                "GLIBC_2.14 (from libc.so.6)"
            ),
        ),
        (
            ("py3-none-manylinux_2_17_aarch64",),
            "wrong-architecture",
            "claims manylinux_2_17_aarch64 but its binaries are built for x86_64",
        ),
        (
            ("py3-none-musllinux_1_2_x86_64",),
            "unchecked-tag",
            (
                "claims musllinux_1_2_x86_64, a platform condapress cannot check (only glibc Linux "
                "and macOS tags)"
            ),
        ),
        (
            ("py3-none-linux_x86_64",),
            "underclaimed-tag",
            "claims linux_x86_64 but its binaries allow manylinux_2_17_x86_64",
        ),
    ],
)
def test_claimed_tags_against_the_verdict(
    tmp_path: Path, libs: dict[str, Path], tags: tuple[str, ...], code: str, message: str
) -> None:
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libdemo.so": libs["demo"].read_bytes()}, tags=tags)
    )
    assert next((f.code, f.message) for f in report.findings if f.code == code) == (code, message)
    assert report.verdict.tag == "manylinux_2_17_x86_64"


@pytest.mark.slow
def test_a_less_compatible_claim_is_honoured(tmp_path: Path, libs: dict[str, Path]) -> None:
    tags = ("py3-none-manylinux_2_28_x86_64",)
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libdemo.so": libs["demo"].read_bytes()}, tags=tags)
    )
    assert codes(report) == ["underclaimed-tag"]
    assert report.findings[0].level is Level.INFO


@pytest.mark.slow
def test_overclaiming_is_an_error_with_a_hint(tmp_path: Path, libs: dict[str, Path]) -> None:
    tags = ("py3-none-manylinux_2_5_x86_64",)
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libdemo.so": libs["demo"].read_bytes()}, tags=tags)
    )
    finding = only(report, "overclaimed-tag")
    assert finding.hint == (
        "tag the wheel manylinux_2_17_x86_64, or build the binaries on an older distribution"
    )


# --- where DT_NEEDED resolves ----------------------------------------------------------------


@pytest.mark.slow
def test_a_library_found_nowhere_is_an_error(tmp_path: Path, libs: dict[str, Path]) -> None:
    payload = {"demo/libusesdep.so": libs["usesdep"].read_bytes()}
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-linux_x86_64",)))
    finding = only(report, "missing-library")
    assert finding.message == (
        "demo/libusesdep.so needs libdep.so, which is neither in the wheel nor on the "
        "manylinux whitelist"
    )
    assert report.libraries[0].needed[0] == ("libdep.so", "missing")
    assert report.verdict.tag == "linux_x86_64"


@pytest.mark.slow
def test_a_library_from_a_required_wheel_is_a_warning(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    payload = {"demo/libusesdep.so": libs["usesdep"].read_bytes()}
    tags = ("py3-none-manylinux_2_5_x86_64",)
    report = audit_wheel(make_wheel(tmp_path, payload, tags=tags, requires=["dep>=1"]))
    (finding,) = report.findings
    assert finding.code == "library-from-other-wheel"
    assert finding.level is Level.WARNING
    assert finding.message == (
        "demo/libusesdep.so needs libdep.so, which is neither in the wheel nor on the "
        "manylinux whitelist: expected from another wheel (dep>=1)"
    )
    # The required wheel answers for its library, as when the press tagged this one.
    assert report.verdict.tag == "manylinux_2_5_x86_64"


@pytest.mark.slow
def test_a_claim_bounded_by_the_required_wheels_is_explained(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    payload = {"demo/libusesdep.so": libs["usesdep"].read_bytes()}
    tags = ("py3-none-manylinux_2_17_x86_64",)
    report = audit_wheel(make_wheel(tmp_path, payload, tags=tags, requires=["dep-conda==1"]))
    assert codes(report) == ["library-from-other-wheel", "tag-from-required-wheels"]
    finding = only(report, "tag-from-required-wheels")
    assert (finding.level, finding.message, finding.hint) == (
        Level.INFO,
        (
            "claims manylinux_2_17_x86_64, less than its own binaries allow "
            "(manylinux_2_5_x86_64): it loads libdep.so from the wheels it requires "
            "(dep-conda==1), whose tags bound its own"
        ),
        "nothing to do if those wheels are tagged so: a wheel installs only where they install",
    )


@pytest.mark.slow
def test_a_bundled_library_must_be_reachable_by_rpath(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    payload = {
        "demo/libusesdep.so": libs["usesdep"].read_bytes(),
        "demo.libs/libdep.so": libs["dep"].read_bytes(),
    }
    tags = ("py3-none-manylinux_2_5_x86_64",)
    report = audit_wheel(make_wheel(tmp_path, payload, tags=tags))
    assert only(report, "unreachable-library").message == (
        "demo/libusesdep.so needs libdep.so, which the wheel has at demo.libs/libdep.so, but no "
        "RPATH entry of demo/libusesdep.so (or of what loads it) leads there"
    )
    payload["demo/libusesdep.so"] = _with_rpath(libs["usesdep"], tmp_path, "$ORIGIN/../demo.libs")
    report = audit_wheel(make_wheel(tmp_path, payload, tags=tags))
    assert report.findings == ()
    assert dict(report.libraries[1].needed)["libdep.so"] == "wheel"


@pytest.mark.slow
@pytest.mark.parametrize(("force", "reachable"), [(True, True), (False, False)])
def test_rpath_is_inherited_by_what_a_library_loads_but_runpath_is_not(
    tmp_path: Path, libs: dict[str, Path], force: bool, reachable: bool
) -> None:
    # demo/ext.so -> demo.libs/libusesdep.so (no RPATH of its own) -> demo.libs/libdep.so
    ext = tmp_path / "ext" / "ext.so"
    ext.parent.mkdir()
    shutil.copyfile(libs["demo"], ext)
    patchelf("--add-needed", "libusesdep.so", ext)
    payload = {
        "demo/ext.so": _with_rpath(ext, tmp_path, "$ORIGIN/../demo.libs", force=force),
        "demo.libs/libusesdep.so": libs["usesdep"].read_bytes(),
        "demo.libs/libdep.so": libs["dep"].read_bytes(),
    }
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-manylinux_2_17_x86_64",)))
    assert codes(report) == ([] if reachable else ["unreachable-library"])


@pytest.mark.slow
def test_the_text_report_has_a_block_per_library(tmp_path: Path, libs: dict[str, Path]) -> None:
    data = _with_rpath(libs["demo"], tmp_path, "/usr/local/demo/lib")
    report = audit_wheel(make_wheel(tmp_path, {"demo/libdemo.so": data}, tags=LINUX))
    assert audit_text(report) == (
        "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl\n"
        "  claims: cp311-cp311-manylinux_2_17_x86_64, cp311-cp311-manylinux2014_x86_64\n"
        "  binaries allow: manylinux_2_17_x86_64 (also manylinux2014_x86_64)\n"
        "    limited by: demo/libdemo.so needs GLIBC_2.14 (from libc.so.6)\n"
        "\n"
        "  demo/libdemo.so\n"
        "    needs libc.so.6 (system)\n"
        "    max versions: GLIBC_2.14\n"
        "    rpath: /usr/local/demo/lib\n"
        "\n"
        "error: demo/libdemo.so has the absolute RPATH entry /usr/local/demo/lib\n"
        "  hint: use an entry relative to $ORIGIN (patchelf --set-rpath) or @loader_path "
        "(install_name_tool -rpath)\n"
        "\n"
        "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl: failed "
        "(1 error, 0 warnings, 0 notes)\n"
    )


@pytest.mark.slow
def test_findings_are_ordered_errors_first(tmp_path: Path, libs: dict[str, Path]) -> None:
    payload = {
        "demo/libonce.so": _with_rpath(libs["once"], tmp_path, "/abs"),
    }
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-linux_x86_64",)))
    assert codes(report) == [
        "rpath-absolute",
        "exported-std-symbols",
        "underclaimed-tag",
        "cxx11-abi",
    ]


def _machine(data: bytes, e_machine: int) -> bytes:
    """*data* with another e_machine (little-endian ELF64): the rest still parses."""
    return data[:18] + e_machine.to_bytes(2, "little") + data[20:]


@pytest.mark.slow
def test_binaries_of_two_architectures_are_an_error(tmp_path: Path, libs: dict[str, Path]) -> None:
    payload = {
        "demo/libdemo.so": libs["demo"].read_bytes(),
        "demo/libdep.so": _machine(libs["dep"].read_bytes(), 183),  # EM_AARCH64
    }
    report = audit_wheel(make_wheel(tmp_path, payload, tags=LINUX))
    assert only(report, "mixed-architectures").message == (
        "demo/libdep.so is built for aarch64, but the wheel is for x86_64"
    )
    assert report.verdict.tag == "linux_x86_64"


@pytest.mark.slow
def test_an_architecture_without_policy_is_judged_by_soname(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    payload = {"demo/libdemo.so": _machine(libs["demo"].read_bytes(), 43)}  # EM_SPARCV9
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-linux_sparcv9",)))
    assert report.verdict.tag == "linux_sparcv9"
    assert report.libraries[0].needed == (("libc.so.6", "system"),)
    assert report.ok


@pytest.mark.slow
def test_a_future_manylinux_tag_cannot_be_checked(tmp_path: Path, libs: dict[str, Path]) -> None:
    tags = ("py3-none-manylinux_2_99_x86_64",)
    report = audit_wheel(
        make_wheel(tmp_path, {"demo/libdemo.so": libs["demo"].read_bytes()}, tags=tags)
    )
    assert only(report, "unchecked-tag").message == (
        "claims manylinux_2_99_x86_64, a platform condapress cannot check (only glibc Linux "
        "and macOS tags)"
    )


@pytest.mark.slow
def test_platlib_data_is_resolved_where_it_is_installed(
    tmp_path: Path, libs: dict[str, Path]
) -> None:
    payload = {
        "demo-1.0.data/platlib/demo/libusesdep.so": _with_rpath(
            libs["usesdep"], tmp_path, "$ORIGIN/../demo.libs"
        ),
        "demo.libs/libdep.so": libs["dep"].read_bytes(),
    }
    report = audit_wheel(make_wheel(tmp_path, payload, tags=("py3-none-manylinux_2_5_x86_64",)))
    assert report.findings == ()


@pytest.mark.slow
def test_a_cxx_wheel_in_text_and_json(tmp_path: Path, libs: dict[str, Path]) -> None:
    provenance = json.dumps({"version": 1, "runtime": "system", "packages": []}).encode()
    path = make_wheel(
        tmp_path,
        {"demo/libonce.so": libs["once"].read_bytes()},
        tags=("py3-none-linux_x86_64",),
        dist_info={"conda-packages.json": provenance},
    )
    report = audit_wheel(path)
    (lib,) = report.libraries
    assert lib.cxx11_abi
    assert only(report, "cxx11-abi").message == (
        "demo/libonce.so uses the C++11 ABI of libstdc++ (std::__cxx11)"
    )
    text = audit_text(report)
    assert "  compiler runtime: system\n" in text
    assert (
        f"    exports std:: {lib.exported_weak_std} weak, {lib.exported_global_std} global\n"
        in text
    )
    assert "    C++11 ABI (std::__cxx11)\n" in text
    schema = json.loads(files("condapress").joinpath("data/audit-schema.json").read_text())
    document = audit_document([report])
    jsonschema.validate(document, schema)
    (library,) = document["wheels"][0]["libraries"]
    assert library["path"] == "demo/libonce.so"
    assert library["needed"][0] == {"soname": "libstdc++.so.6", "where": "system"}
    assert set(library["max_versions"]) >= {"GLIBC", "GLIBCXX"}
    assert document["wheels"][0]["runtime"] == "system"
