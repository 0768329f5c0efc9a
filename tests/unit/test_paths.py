"""_paths: the one checked destination of every staged write, and who holds each wheel path."""

from __future__ import annotations

import ast
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from condapress._paths import Claim, Claims, Destinations, destination
from condapress.errors import OverlapError, WheelContentsError
from condapress.formats.elf import ELF
from condapress.model import (
    Launcher,
    Layout,
    Placement,
    UnpackedPackage,
)
from condapress.relocate._apply import write_layout
from support.factories import record, unpacked

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root folder to write in, and ``outside/secret`` beside it."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("keep me")
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


def everything(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_path_inside_gets_its_folder(root: Path) -> None:
    target = destination(root, "pkg/sub/mod.py")
    assert target == root / "pkg" / "sub" / "mod.py"
    assert (root / "pkg" / "sub").is_dir()
    assert not target.exists()  # the caller writes it


@pytest.mark.parametrize(
    ("relative", "problem"),
    [
        ("../outside/secret", "has a '..' component"),
        ("pkg/../../outside/x", "has a '..' component"),
        ("/etc/passwd", "is an absolute path"),
        ("", "is empty"),
        ("pkg//x", "is not a normalized path (empty or '.' component)"),
        ("pkg\\x", "uses '\\' instead of '/'"),
        ("pkg/x\n", "contains a control character"),
    ],
)
def test_paths_that_leave_the_root_are_refused(relative: str, problem: str, root: Path) -> None:
    with pytest.raises(WheelContentsError) as excinfo:
        destination(root, relative)
    assert excinfo.value.message == f"refusing to write {relative!r} in {root}: it {problem}"
    assert excinfo.value.hint == (
        "this is a bug in condapress; report it with the command line that caused it"
    )
    assert everything(root.parent) == ["outside", "outside/secret", "root"]


@pytest.mark.parametrize("relative", ["link/new/file", "link/secret", "file-link"])
def test_symbolic_links_under_the_root_are_resolved(relative: str, root: Path) -> None:
    outside = root.parent / "outside"
    (root / "link").symlink_to(outside)
    (root / "file-link").symlink_to(outside / "secret")
    resolved = outside / relative.partition("/")[2] if "/" in relative else outside / "secret"
    with pytest.raises(WheelContentsError) as excinfo:
        destination(root, relative)
    assert excinfo.value.message == (
        f"refusing to write {relative!r} in {root}: it resolves to {resolved}, outside {root}"
    )
    assert everything(outside) == ["secret"]  # no folder made through the link


def test_the_root_itself_is_no_destination(root: Path) -> None:
    (root / "here").symlink_to(".")
    with pytest.raises(WheelContentsError, match=r"resolves to .*, outside"):
        destination(root, "here")


# -- Destinations: the same checks, once per folder ---------------------------------------------


def test_destinations_give_what_destination_gives(root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    paths = ["a.py", "pkg/x.py", "pkg/y.py", "pkg/sub/z.so", "pkg/sub/w.so", "lib/deep/er/f"]
    destinations = Destinations(root)
    assert [destinations(p) for p in paths] == [root / p for p in paths]
    assert [destination(other, p) for p in paths] == [other / p for p in paths]
    assert everything(root) == everything(other)


@pytest.mark.parametrize(
    ("relative", "problem"),
    [
        ("pkg/..", "has a '..' component"),
        ("pkg/../../outside/x", "has a '..' component"),
        ("pkg/x\n", "contains a control character"),
        ("pkg/", "is not a normalized path (empty or '.' component)"),
    ],
)
def test_a_known_folder_does_not_skip_the_name_checks(
    relative: str, problem: str, root: Path
) -> None:
    destinations = Destinations(root)
    destinations("pkg/first.py")
    with pytest.raises(WheelContentsError) as excinfo:
        destinations(relative)
    assert excinfo.value.message == f"refusing to write {relative!r} in {root}: it {problem}"


def test_a_link_in_a_known_folder_is_checked_whole(root: Path) -> None:
    outside = root.parent / "outside"
    destinations = Destinations(root)
    destinations("pkg/first.py")
    (root / "pkg" / "leak").symlink_to(outside / "secret")
    with pytest.raises(WheelContentsError) as excinfo:
        destinations("pkg/leak")
    assert excinfo.value.message == (
        f"refusing to write 'pkg/leak' in {root}: it resolves to {outside / 'secret'}, "
        f"outside {root}"
    )


def test_a_folder_reached_through_a_link_is_checked_every_time(root: Path) -> None:
    outside = root.parent / "outside"
    (root / "real").mkdir()
    (root / "via").symlink_to("real")
    destinations = Destinations(root)
    assert destinations("via/a") == root / "via" / "a"  # inside: allowed
    (root / "via").unlink()
    (root / "via").symlink_to(outside)
    with pytest.raises(WheelContentsError) as excinfo:
        destinations("via/b")
    assert excinfo.value.message == (
        f"refusing to write 'via/b' in {root}: it resolves to {outside / 'b'}, outside {root}"
    )
    assert everything(outside) == ["secret"]


# -- every write of the staging step goes through it ---------------------------------------------


def package(root: Path) -> UnpackedPackage:
    (root / "pkg" / "bin").mkdir(parents=True)
    (root / "pkg" / "bin" / "tool").write_bytes(b"#!/bin/sh\n")
    return unpacked(record("tool"), root=root / "pkg")


def layout(placements: tuple[Placement, ...] = (), launchers: tuple[Launcher, ...] = ()) -> Layout:
    return Layout("tool", "tool.libs", placements, (), launchers, ())


@pytest.mark.parametrize(
    "hostile",
    [
        layout(placements=(Placement("tool", "bin/tool", "../../outside/secret"),)),
        layout(launchers=(Launcher("tool", "../../outside/secret", "tool.libs/bin/tool"),)),
    ],
    ids=["placement", "launcher"],
)
def test_the_staging_step_writes_only_inside_its_stage(hostile: Layout, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("keep me")
    stage = tmp_path / "work" / "stage"
    with pytest.raises(WheelContentsError, match=r"has a '\.\.' component"):
        write_layout(hostile, {"tool": package(tmp_path / "work")}, stage, ELF)
    assert (tmp_path / "outside" / "secret").read_text() == "keep me"
    assert not stage.exists()


def test_launcher_names_are_escaped_into_its_script(tmp_path: Path) -> None:
    # A file name may hold quotes: in the launcher they stay data.
    name = "to\"ol's"

    target = f"tool.libs/bin/{name}"
    launcher = Launcher(name, f"tool-1.0.data/scripts/{name}", target)
    stage = tmp_path / "stage"
    write_layout(layout(launchers=(launcher,)), {}, stage, ELF)
    script = (stage / launcher.dest).read_text(encoding="utf-8")
    strings = {
        node.value
        for node in ast.walk(ast.parse(script))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert target in strings
    assert f"{name}: cannot find {target} on sys.path; is its package installed?" in strings


def test_staged_files_are_links_to_the_unpacked_ones_and_never_written_through(
    tmp_path: Path,
) -> None:
    """Staging copies no bytes a file keeps as it is, and never changes the unpacked package."""
    pkg = package(tmp_path / "work")
    init = pkg.root / "site-packages" / "mod" / "__init__.py"
    init.parent.mkdir(parents=True)
    init.write_bytes(b"VALUE = 1\n")
    init.chmod(0o644)
    (pkg.root / "bin" / "tool").chmod(0o600)
    placements = (
        Placement("tool", "site-packages/mod/__init__.py", "mod/__init__.py"),
        Placement("tool", "bin/tool", "tool.libs/bin/tool", executable=True),
    )
    stage = tmp_path / "stage"
    write_layout(replace(layout(placements), hooks=("mod/__init__.py",)), {"tool": pkg}, stage, ELF)
    # the hook's import went into a file of its own: the unpacked one is as it was
    assert init.read_bytes() == b"VALUE = 1\n"
    assert b"VALUE = 1" in (stage / "mod" / "__init__.py").read_bytes() != init.read_bytes()
    assert (stage / "mod" / "__init__.py").stat().st_ino != init.stat().st_ino
    # the tool needs another mode than its unpacked file's: a copy, the unpacked mode kept
    tool, staged_tool = pkg.root / "bin" / "tool", stage / "tool.libs" / "bin" / "tool"
    assert (tool.stat().st_mode & 0o777, staged_tool.stat().st_mode & 0o777) == (0o600, 0o755)
    assert staged_tool.stat().st_ino != tool.stat().st_ino
    # a file kept as it is, with its mode: the same file, no bytes copied
    write_layout(layout(placements[:1]), {"tool": pkg}, tmp_path / "plain", ELF)
    assert (tmp_path / "plain" / "mod" / "__init__.py").stat().st_ino == init.stat().st_ino


# -- Claims: one file per wheel path ---------------------------------------------------------------


def claim(package: str, source: str, content: str) -> Claim:
    return Claim(package, source, lambda: content)


HINT = (
    "pass --allow-overlap to keep the file of a-1-0, the first package in the plan's order, "
    "and leave the other out"
)


def test_the_same_file_twice_is_kept_once(caplog: pytest.LogCaptureFixture) -> None:
    claims = Claims()
    caplog.set_level(logging.INFO, logger="condapress._paths")
    assert claims.claim("pkg/x.py", claim("a-1-0", "site-packages/pkg/x.py", "1")) is None
    left_out = claims.claim("pkg/x.py", claim("b-1-0", "site-packages/pkg/x.py", "1"))
    assert left_out == "the same file as site-packages/pkg/x.py of a-1-0 is already in the wheel"
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.INFO,
            (
                "'pkg/x.py': site-packages/pkg/x.py of b-1-0 is the same file as "
                "site-packages/pkg/x.py of a-1-0; the wheel holds it once"
            ),
        )
    ]


def test_different_files_at_one_path(caplog: pytest.LogCaptureFixture) -> None:
    claims = Claims()
    claims.claim("pkg/x.py", claim("a-1-0", "site-packages/pkg/x.py", "1"))
    with pytest.raises(OverlapError) as excinfo:
        claims.claim("pkg/x.py", claim("b-1-0", "site-packages/pkg/x.py", "2"))
    assert excinfo.value.message == (
        "'pkg/x.py' in the wheel would hold two different files: site-packages/pkg/x.py of "
        "a-1-0 and site-packages/pkg/x.py of b-1-0"
    )
    assert (excinfo.value.hint, excinfo.value.code) == (HINT, "overlapping-files")
    assert (excinfo.value.package, excinfo.value.path) == ("b-1-0", "pkg/x.py")

    allowed = Claims(allow_overlap=True)
    allowed.claim("pkg/x.py", claim("a-1-0", "site-packages/pkg/x.py", "1"))
    left_out = allowed.claim("pkg/x.py", claim("b-1-0", "site-packages/pkg/x.py", "2"))
    assert left_out == (
        "'pkg/x.py' is already taken by site-packages/pkg/x.py of a-1-0 (--allow-overlap)"
    )
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.WARNING,
            (
                "'pkg/x.py' in the wheel would hold two different files: site-packages/pkg/x.py of "
                "a-1-0 and site-packages/pkg/x.py of b-1-0; keeping the first (--allow-overlap)"
            ),
        )
    ]


def test_names_equal_in_nfc_are_one_path() -> None:
    claims = Claims()
    assert claims.claim("pkg/caf\u00e9.py", claim("a-1-0", "x", "1")) is None
    with pytest.raises(OverlapError) as excinfo:
        claims.claim("pkg/cafe\u0301.py", claim("a-1-0", "y", "2"))
    assert excinfo.value.message == (
        "'pkg/caf\\xe9.py' (also spelled 'pkg/cafe\\u0301.py', another Unicode normalization) "
        "in the wheel would hold two different files: x of a-1-0 and y of a-1-0"
    )
    # as a folder too: the file's folder and the later file are one name
    assert claims.claim("dir/caf\u00e9/mod.py", claim("a-1-0", "m", "3")) is None
    with pytest.raises(OverlapError) as excinfo:
        claims.claim("dir/cafe\u0301", claim("a-1-0", "f", "4"))
    assert excinfo.value.message == (
        "'dir/caf\\xe9' (also spelled 'dir/cafe\\u0301', another Unicode normalization) in the "
        "wheel would be both a folder (of m of a-1-0) and a file (f of a-1-0)"
    )


def test_a_file_and_a_folder_of_one_name() -> None:
    claims = Claims()
    assert claims.claim("share/x", claim("a-1-0", "share/x", "1")) is None
    with pytest.raises(OverlapError) as excinfo:
        claims.claim("share/x/y/z", claim("b-1-0", "share/x/y/z", "2"))
    assert excinfo.value.message == (
        "'share/x' in the wheel would be both a file (share/x of a-1-0) and a folder (of "
        "share/x/y/z of b-1-0)"
    )
    allowed = Claims(allow_overlap=True)
    assert allowed.claim("share/x/y/z", claim("a-1-0", "share/x/y/z", "1")) is None
    left_out = allowed.claim("share/x", claim("b-1-0", "share/x", "2"))
    assert left_out == "'share/x' is already taken by share/x/y/z of a-1-0 (--allow-overlap)"


def test_content_is_read_only_when_two_files_meet() -> None:
    read: list[str] = []

    def content(name: str) -> Claim:
        def digest() -> str:
            read.append(name)
            return name

        return Claim("a-1-0", name, digest)

    claims = Claims()
    for name in ("a", "b", "c"):
        claims.claim(name, content(name))
    assert read == []
    claims.claim("a", content("a"))
    assert read == ["a", "a"]


def test_destination_resolves_as_path_resolve_does(tmp_path: Path) -> None:
    """The walk that checks a destination agrees with ``Path.resolve`` through each kind of link."""
    from condapress._paths import _resolved_under

    root = tmp_path.resolve()
    (root / "a" / "b").mkdir(parents=True)
    (root / "f").write_text("x")
    (root / "a" / "up").symlink_to("../..")
    (root / "abs").symlink_to(root / "a")
    (root / "a" / "b" / "tofile").symlink_to("f")
    cases = ["a/b/c", "a/up/x", "abs/b/n", "f/x", "a/b/tofile/y", "new/deep/file", "a/up", "abs"]
    assert [str(_resolved_under(root, case)[0]) for case in cases] == [
        str((root / case).resolve()) for case in cases
    ]
    assert str(_resolved_under(root, "a/up/x")[0]) == str(root.parent / "x")  # outside: refused
    assert [_resolved_under(root, case)[1] for case in cases] == [
        True,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
    ]
