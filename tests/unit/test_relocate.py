"""relocate.plan_layout is pure: packages and ELF facts are made here, nothing is patched."""

from __future__ import annotations

from pathlib import Path

import pytest

from condapress.errors import OverlapError
from condapress.formats.elf import ELF
from condapress.model import (
    BinaryEdit,
    BinaryFacts,
    CondaRecord,
    FileMode,
    Launcher,
    LeftOut,
    PackageInfo,
    PathEntry,
    PathType,
    UnpackedPackage,
    WheelSpec,
)
from condapress.relocate._layout import mangle, plan_layout, provided_sonames

PLACEHOLDER = "/home/conda/feedstock_root/build_artifacts/x_1/_h_env_placehold_placehold"


def elf(
    *needed: str, soname: str | None = None, shared: bool = True, rpath: tuple[str, ...] = ()
) -> BinaryFacts:
    return BinaryFacts(
        machine="x86_64",
        is_shared=shared,
        is_executable=not shared,
        soname=soname,
        needed=needed,
        rpath=rpath,
        runpath=(),
        interpreter=None if shared else "/lib64/ld-linux-x86-64.so.2",
        version_needs=(),
        exported_weak_std=(),
        exported_global_std=(),
        uses_cxx11_abi=False,
    )


def package(name: str, sha: str, *entries: PathEntry) -> UnpackedPackage:
    record = CondaRecord(name, "1.0", "h0_0", 0, "linux-64", (), sha256=sha)
    return UnpackedPackage(PackageInfo(record, entries), Path("/nonexistent") / name, Path("x"))


def hard(path: str, placeholder: str | None = None) -> PathEntry:
    mode = FileMode.BINARY if placeholder else None
    return PathEntry(path, PathType.HARDLINK, prefix_placeholder=placeholder, file_mode=mode)


def soft(path: str) -> PathEntry:
    return PathEntry(path, PathType.SOFTLINK)


SHA_C, SHA_CXX, SHA_EXT = "c" * 64, "d" * 64, "e" * 64
PACKAGES = {
    "libc1": package(
        "libc1",
        SHA_C,
        hard("lib/libc1.so.1.0.0", PLACEHOLDER),
        soft("lib/libc1.so.1"),
        soft("lib/libc1.so"),
        hard("include/c1.h"),
        hard("lib/pkgconfig/c1.pc"),
        hard("share/c1/data.txt"),
        hard("bin/c1tool"),
    ),
    "libcxx1": package("libcxx1", SHA_CXX, hard("lib/libcxx1.so.1.0"), soft("lib/libcxx1.so.1")),
    "ext": package(
        "ext",
        SHA_EXT,
        hard("lib/python3.11/site-packages/ext/__init__.py"),
        hard("lib/python3.11/site-packages/ext/_ext.cpython-311-x86_64-linux-gnu.so"),
        hard("lib/python3.11/site-packages/ext-1.0.dist-info/METADATA"),
        hard("lib/python3.11/site-packages/ext/__pycache__/__init__.cpython-311.pyc"),
    ),
}
ELFS = {
    "libc1": {
        "lib/libc1.so.1.0.0": elf("libc.so.6", soname="libc1.so.1"),
        "bin/c1tool": elf("libc1.so.1", "libc.so.6", shared=False, rpath=("$ORIGIN/../lib",)),
    },
    "libcxx1": {
        "lib/libcxx1.so.1.0": elf("libc1.so.1", "libstdc++.so.6", soname="libcxx1.so.1"),
    },
    "ext": {
        "lib/python3.11/site-packages/ext/_ext.cpython-311-x86_64-linux-gnu.so": elf(
            "libcxx1.so.1", "libstdc++.so.6", rpath=("$ORIGIN/../../..",)
        ),
    },
}
C1 = mangle("libc1.so.1", SHA_C)
CXX1 = mangle("libcxx1.so.1", SHA_CXX)


def test_mangled_names_depend_on_the_package_and_keep_the_version_suffix() -> None:
    assert C1.startswith("libc1-")
    assert C1.endswith(".so.1")
    assert len(C1) == len("libc1-12345678.so.1")
    assert mangle("libc1.so.1", "f" * 64) != C1
    assert mangle("libc1.so.1", SHA_C) == C1


def test_fat_layout() -> None:
    wheel = WheelSpec("ext", "1.0", ("ext", "libcxx1", "libc1"))
    layout = plan_layout(wheel, PACKAGES, ELFS, ELF)
    assert {(p.source, p.dest) for p in layout.placements} == {
        ("lib/python3.11/site-packages/ext/__init__.py", "ext/__init__.py"),
        (
            "lib/python3.11/site-packages/ext/_ext.cpython-311-x86_64-linux-gnu.so",
            "ext/_ext.cpython-311-x86_64-linux-gnu.so",
        ),
        ("lib/libcxx1.so.1.0", f"ext.libs/{CXX1}"),
        ("lib/libc1.so.1.0.0", f"ext.libs/{C1}"),
        ("share/c1/data.txt", "ext.libs/share/c1/data.txt"),
        ("bin/c1tool", "ext.libs/bin/c1tool"),
    }
    assert set(layout.binary_edits) == {
        BinaryEdit(
            dest="ext/_ext.cpython-311-x86_64-linux-gnu.so",
            set_rpath="$ORIGIN/../ext.libs",
            replace_needed=(("libcxx1.so.1", CXX1),),
        ),
        BinaryEdit(
            dest=f"ext.libs/{CXX1}",
            set_rpath="$ORIGIN",
            replace_needed=(("libc1.so.1", C1),),
            set_soname=CXX1,
        ),
        BinaryEdit(dest=f"ext.libs/{C1}", set_soname=C1),
        BinaryEdit(
            dest="ext.libs/bin/c1tool",
            set_rpath="$ORIGIN/..",
            replace_needed=(("libc1.so.1", C1),),
        ),
    }
    assert layout.launchers == (
        Launcher("c1tool", "ext-1.0.data/scripts/c1tool", "ext.libs/bin/c1tool"),
    )
    (binary,) = (p for p in layout.placements if p.placeholder)
    assert (binary.dest, binary.prefix, binary.file_mode) == (
        f"ext.libs/{C1}",
        "/dev/null/condapress",
        FileMode.BINARY,
    )
    reasons = {left.path: left.reason for left in layout.left_out}
    assert reasons == {
        "lib/libc1.so.1": "symbolic link (the wheel keeps one file per library, under its soname)",
        "lib/libc1.so": "symbolic link (the wheel keeps one file per library, under its soname)",
        "lib/libcxx1.so.1": (
            "symbolic link (the wheel keeps one file per library, under its soname)"
        ),
        "include/c1.h": "header (development file)",
        "lib/pkgconfig/c1.pc": "build-system file (development file)",
        "lib/python3.11/site-packages/ext-1.0.dist-info/METADATA": (
            "metadata of a merged package (the wheel has its own)"
        ),
        "lib/python3.11/site-packages/ext/__pycache__/__init__.cpython-311.pyc": (
            "byte-code cache (pip compiles on install)"
        ),
    }


def test_split_layout_links_the_other_wheels_libraries() -> None:
    libs = WheelSpec("libcxx1-conda", "1.0", ("libcxx1",))
    others = provided_sonames(libs, PACKAGES, ELFS, ELF)
    assert others == {"libcxx1.so.1": ("libcxx1_conda.libs", CXX1)}
    wheel = WheelSpec("ext", "1.0", ("ext",), wheel_dependencies=("libcxx1-conda",))
    layout = plan_layout(wheel, PACKAGES, ELFS, ELF, others=others)
    assert layout.binary_edits == (
        BinaryEdit(
            dest="ext/_ext.cpython-311-x86_64-linux-gnu.so",
            set_rpath="$ORIGIN/../libcxx1_conda.libs",
            replace_needed=(("libcxx1.so.1", CXX1),),
        ),
    )


def test_an_elf_that_needs_nothing_bundled_loses_its_conda_rpath() -> None:
    wheel = WheelSpec("c1tool-conda", "1.0", ("libc1",))
    elfs = {"libc1": {"bin/c1tool": elf("libc.so.6", shared=False, rpath=("$ORIGIN/../lib",))}}
    packages = {"libc1": package("libc1", SHA_C, hard("bin/c1tool"))}
    (edit,) = plan_layout(wheel, packages, elfs, ELF).binary_edits
    assert edit == BinaryEdit(dest="c1tool_conda.libs/bin/c1tool", remove_rpath=True)


def test_grafted_runtime_keeps_only_what_is_needed() -> None:
    runtime = package(
        "libstdcxx-ng", "a" * 64, hard("lib/libstdc++.so.6.0.32"), hard("lib/libitm.so.1.0.0")
    )
    elfs = {
        **ELFS,
        "libstdcxx-ng": {
            "lib/libstdc++.so.6.0.32": elf("libc.so.6", soname="libstdc++.so.6"),
            "lib/libitm.so.1.0.0": elf("libc.so.6", soname="libitm.so.1"),
        },
    }
    wheel = WheelSpec("ext", "1.0", ("ext", "libcxx1", "libc1", "libstdcxx-ng"))
    layout = plan_layout(
        wheel,
        {**PACKAGES, "libstdcxx-ng": runtime},
        elfs,
        ELF,
        graft_only_needed=frozenset({"libstdcxx-ng"}),
    )
    dests = {p.dest for p in layout.placements}
    assert f"ext.libs/{mangle('libstdc++.so.6', 'a' * 64)}" in dests
    assert not any("libitm" in d for d in dests)
    why = "runtime library that no binary needs"
    left_out = LeftOut("libstdcxx-ng", "lib/libitm.so.1.0.0", why)
    assert left_out in layout.left_out


def test_library_without_soname_is_known_by_its_file_name_and_linker_scripts_are_left_out() -> None:
    sha = "b" * 64
    tk = package("tk", sha, hard("lib/libtcl8.6.so"), hard("lib/libgcc_s.so"), hard("bin/tclsh"))
    elfs = {
        "tk": {
            "lib/libtcl8.6.so": elf("libc.so.6"),
            "bin/tclsh": elf("libtcl8.6.so", shared=False),
        }
    }
    layout = plan_layout(WheelSpec("tk-conda", "1.0", ("tk",)), {"tk": tk}, elfs, ELF)
    tcl = mangle("libtcl8.6.so", sha)
    assert tcl.startswith("libtcl8.6-")
    assert tcl.endswith(".so")
    assert set(layout.binary_edits) == {
        BinaryEdit(dest=f"tk_conda.libs/{tcl}", set_soname=tcl),
        BinaryEdit(
            dest="tk_conda.libs/bin/tclsh",
            set_rpath="$ORIGIN/..",
            replace_needed=(("libtcl8.6.so", tcl),),
        ),
    }
    assert layout.left_out == (
        LeftOut(
            "tk",
            "lib/libgcc_s.so",
            "linker script for a library's link-time name (development file)",
        ),
    )


def test_a_library_inside_site_packages_stays_beside_its_modules(tmp_path: Path) -> None:
    site = "lib/python3.11/site-packages/arrow"
    root = tmp_path / "pyarrow"
    (root / site).mkdir(parents=True)
    (root / site / "libarrow_python.so.26.1.0").touch()
    (root / site / "libarrow_python.so.26").symlink_to("libarrow_python.so.26.1.0")
    pyarrow = UnpackedPackage(
        PackageInfo(
            CondaRecord("pyarrow", "26", "py311h0_0", 0, "linux-64", (), sha256="9" * 64),
            (
                hard(f"{site}/libarrow_python.so.26.1.0"),
                soft(f"{site}/libarrow_python.so.26"),
                hard(f"{site}/lib.cpython-311-x86_64-linux-gnu.so"),
            ),
        ),
        root,
        Path("pyarrow.conda"),
    )
    elfs = {
        "pyarrow": {
            f"{site}/libarrow_python.so.26.1.0": elf("libc.so.6", soname="libarrow_python.so.26"),
            f"{site}/lib.cpython-311-x86_64-linux-gnu.so": elf(
                "libarrow_python.so.26", rpath=("$ORIGIN/../../..",)
            ),
        }
    }
    layout = plan_layout(WheelSpec("pyarrow", "26", ("pyarrow",)), {"pyarrow": pyarrow}, elfs, ELF)
    assert [p.dest for p in layout.placements] == [
        "arrow/libarrow_python.so.26",
        "arrow/lib.cpython-311-x86_64-linux-gnu.so",
    ]
    assert layout.left_out == (
        LeftOut(
            "pyarrow",
            f"{site}/libarrow_python.so.26",
            "symbolic link to a library kept under its soname",
        ),
    )
    assert layout.binary_edits == (
        BinaryEdit(dest="arrow/libarrow_python.so.26"),
        BinaryEdit(dest="arrow/lib.cpython-311-x86_64-linux-gnu.so", set_rpath="$ORIGIN"),
    )


def test_two_programs_of_one_name_would_share_a_launcher() -> None:
    # bin/a/tool and bin/b/tool both get the launcher <dist>-1.0.data/scripts/tool.
    tools = package("tools", SHA_C, hard("bin/a/tool"), hard("bin/b/tool"))
    elfs = {"tools": {"bin/a/tool": elf(shared=False), "bin/b/tool": elf(shared=False)}}
    wheel = WheelSpec("tools-conda", "1.0", ("tools",))
    with pytest.raises(OverlapError) as excinfo:
        plan_layout(wheel, {"tools": tools}, elfs, ELF)
    assert excinfo.value.message == (
        "'tools_conda-1.0.data/scripts/tool' in the wheel would hold two different files: the "
        "launcher of bin/a/tool of tools-1.0-h0_0 and the launcher of bin/b/tool of tools-1.0-h0_0"
    )
    layout = plan_layout(wheel, {"tools": tools}, elfs, ELF, allow_overlap=True)
    assert layout.launchers == (
        Launcher("tool", "tools_conda-1.0.data/scripts/tool", "tools_conda.libs/bin/a/tool"),
    )
    assert [p.dest for p in layout.placements] == [
        "tools_conda.libs/bin/a/tool",
        "tools_conda.libs/bin/b/tool",
    ]
    assert layout.left_out == (
        LeftOut(
            "tools",
            "the launcher of bin/b/tool",
            (
                "'tools_conda-1.0.data/scripts/tool' is already taken by the launcher of "
                "bin/a/tool of tools-1.0-h0_0 (--allow-overlap)"
            ),
        ),
    )
