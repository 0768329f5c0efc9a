"""relocate.plan_layout is pure: packages and ELF facts are made here, nothing is patched."""

from __future__ import annotations

from pathlib import Path

import pytest

from condapress.errors import OverlapError, UnresolvedLibraryError
from condapress.formats.elf import ELF
from condapress.model import (
    BinaryEdit,
    FileMode,
    Launcher,
    LeftOut,
    PathEntry,
    UnpackedPackage,
)
from condapress.relocate._layout import mangle, plan_layout, provided_sonames
from support.factories import binary_facts, hardlink, record, softlink, unpacked, wheel_spec

PLACEHOLDER = "/home/conda/feedstock_root/build_artifacts/x_1/_h_env_placehold_placehold"


def package(name: str, sha: str, *entries: PathEntry) -> UnpackedPackage:
    return unpacked(record(name, sha256=sha), *entries, root=Path("/nonexistent") / name)


SHA_C, SHA_CXX, SHA_EXT = "c" * 64, "d" * 64, "e" * 64
PACKAGES = {
    "libc1": package(
        "libc1",
        SHA_C,
        hardlink("lib/libc1.so.1.0.0", PLACEHOLDER),
        softlink("lib/libc1.so.1"),
        softlink("lib/libc1.so"),
        hardlink("include/c1.h"),
        hardlink("lib/pkgconfig/c1.pc"),
        hardlink("share/c1/data.txt"),
        hardlink("bin/c1tool"),
    ),
    "libcxx1": package(
        "libcxx1", SHA_CXX, hardlink("lib/libcxx1.so.1.0"), softlink("lib/libcxx1.so.1")
    ),
    "ext": package(
        "ext",
        SHA_EXT,
        hardlink("lib/python3.11/site-packages/ext/__init__.py"),
        hardlink("lib/python3.11/site-packages/ext/_ext.cpython-311-x86_64-linux-gnu.so"),
        hardlink("lib/python3.11/site-packages/ext-1.0.dist-info/METADATA"),
        hardlink("lib/python3.11/site-packages/ext/__pycache__/__init__.cpython-311.pyc"),
    ),
}
ELFS = {
    "libc1": {
        "lib/libc1.so.1.0.0": binary_facts("libc.so.6", soname="libc1.so.1"),
        "bin/c1tool": binary_facts(
            "libc1.so.1", "libc.so.6", shared=False, rpath=("$ORIGIN/../lib",)
        ),
    },
    "libcxx1": {
        "lib/libcxx1.so.1.0": binary_facts("libc1.so.1", "libstdc++.so.6", soname="libcxx1.so.1"),
    },
    "ext": {
        "lib/python3.11/site-packages/ext/_ext.cpython-311-x86_64-linux-gnu.so": binary_facts(
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
    wheel = wheel_spec("ext", "ext", "libcxx1", "libc1")
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
    libs = wheel_spec("libcxx1-conda", "libcxx1")
    others = provided_sonames(libs, PACKAGES, ELFS, ELF)
    assert others == {"libcxx1.so.1": ("libcxx1_conda.libs", CXX1)}
    wheel = wheel_spec("ext", "ext", wheel_dependencies=("libcxx1-conda",))
    layout = plan_layout(wheel, PACKAGES, ELFS, ELF, others=others)
    assert layout.binary_edits == (
        BinaryEdit(
            dest="ext/_ext.cpython-311-x86_64-linux-gnu.so",
            set_rpath="$ORIGIN/../libcxx1_conda.libs",
            replace_needed=(("libcxx1.so.1", CXX1),),
        ),
    )


def test_an_elf_that_needs_nothing_bundled_loses_its_conda_rpath() -> None:
    wheel = wheel_spec("c1tool-conda", "libc1")
    elfs = {
        "libc1": {"bin/c1tool": binary_facts("libc.so.6", shared=False, rpath=("$ORIGIN/../lib",))}
    }
    packages = {"libc1": package("libc1", SHA_C, hardlink("bin/c1tool"))}
    (edit,) = plan_layout(wheel, packages, elfs, ELF).binary_edits
    assert edit == BinaryEdit(dest="c1tool_conda.libs/bin/c1tool", remove_rpath=True)


def test_grafted_runtime_keeps_only_what_is_needed() -> None:
    runtime = package(
        "libstdcxx-ng",
        "a" * 64,
        hardlink("lib/libstdc++.so.6.0.32"),
        hardlink("lib/libitm.so.1.0.0"),
    )
    elfs = {
        **ELFS,
        "libstdcxx-ng": {
            "lib/libstdc++.so.6.0.32": binary_facts("libc.so.6", soname="libstdc++.so.6"),
            "lib/libitm.so.1.0.0": binary_facts("libc.so.6", soname="libitm.so.1"),
        },
    }
    wheel = wheel_spec("ext", "ext", "libcxx1", "libc1", "libstdcxx-ng")
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
    tk = package(
        "tk", sha, hardlink("lib/libtcl8.6.so"), hardlink("lib/libgcc_s.so"), hardlink("bin/tclsh")
    )
    elfs = {
        "tk": {
            "lib/libtcl8.6.so": binary_facts("libc.so.6"),
            "bin/tclsh": binary_facts("libtcl8.6.so", shared=False),
        }
    }
    layout = plan_layout(wheel_spec("tk-conda", "tk"), {"tk": tk}, elfs, ELF)
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
    pyarrow = unpacked(
        record("pyarrow", "26", "py311h0_0", sha256="9" * 64),
        hardlink(f"{site}/libarrow_python.so.26.1.0"),
        softlink(f"{site}/libarrow_python.so.26"),
        hardlink(f"{site}/lib.cpython-311-x86_64-linux-gnu.so"),
        root=root,
        archive=Path("pyarrow.conda"),
    )
    elfs = {
        "pyarrow": {
            f"{site}/libarrow_python.so.26.1.0": binary_facts(
                "libc.so.6", soname="libarrow_python.so.26"
            ),
            f"{site}/lib.cpython-311-x86_64-linux-gnu.so": binary_facts(
                "libarrow_python.so.26", rpath=("$ORIGIN/../../..",)
            ),
        }
    }
    layout = plan_layout(
        wheel_spec("pyarrow", "pyarrow", version="26"), {"pyarrow": pyarrow}, elfs, ELF
    )
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
    tools = package("tools", SHA_C, hardlink("bin/a/tool"), hardlink("bin/b/tool"))
    elfs = {
        "tools": {
            "bin/a/tool": binary_facts(shared=False),
            "bin/b/tool": binary_facts(shared=False),
        }
    }
    wheel = wheel_spec("tools-conda", "tools")
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


def test_an_excluded_library_is_left_out_and_its_users_keep_needing_it_by_name() -> None:
    # libcuda.so.1: no package of the closure has it, nor the manylinux whitelist
    elfs = {**ELFS, "libc1": {**ELFS["libc1"]}}
    elfs["libc1"]["bin/c1tool"] = binary_facts("libc1.so.1", "libcuda.so.1", shared=False)
    wheel = wheel_spec("ext", "ext", "libcxx1", "libc1")
    layout = plan_layout(wheel, PACKAGES, elfs, ELF, exclude=("libc1.so*", "libcuda.so.?"))
    assert "lib/libc1.so.1.0.0" not in {p.source for p in layout.placements}
    assert (
        LeftOut(
            "libc1",
            "lib/libc1.so.1.0.0",
            "excluded by --exclude 'libc1.so*': another wheel or the system provides it",
        )
        in layout.left_out
    )
    edits = {edit.dest: edit for edit in layout.binary_edits}
    assert edits[f"ext.libs/{CXX1}"].replace_needed == ()  # libc1.so.1 stays libc1.so.1
    assert edits["ext.libs/bin/c1tool"].replace_needed == ()
    assert "libc1.so.1" not in provided_sonames(wheel, PACKAGES, ELFS, ELF, ("libc1.so*",))


def test_without_exclude_an_unknown_library_is_refused() -> None:
    elfs = {**ELFS, "libc1": {**ELFS["libc1"]}}
    elfs["libc1"]["bin/c1tool"] = binary_facts("libc1.so.1", "libcuda.so.1", shared=False)
    with pytest.raises(UnresolvedLibraryError) as refused:
        plan_layout(wheel_spec("ext", "ext", "libcxx1", "libc1"), PACKAGES, elfs, ELF)
    assert refused.value.message == (
        "libc1-1.0-h0_0.conda: bin/c1tool needs libcuda.so.1, which no package of the closure "
        "provides and a manylinux system does not have"
    )
