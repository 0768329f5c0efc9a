"""Names read from inside a package are data, never paths: hostile ones, through the command line.

Each test builds its hostile input itself: shared libraries compiled here with gcc under sonames
and DT_NEEDED entries that climb out of the work folder, packages whose metadata names escape,
site-packages links to folders and in loops, and merged packages that ship the same path. The
``workspace`` fixture (tests/support/presses.py) checks that a refused press leaves no wheel, no
temporary file and no file outside ``-o``, the cache and the temporary folder (``outside/secret``
is the file the hostile names aim at).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import zipfile
from typing import TYPE_CHECKING

import pytest

from condapress.formats.elf._read import read_elf
from support import FIXTURE_CHANNEL
from support.archive_edits import file_member, paths_json_for, read_archive, reindex, write_archive
from support.conda_archives import (
    METADATA,
    M,
    Package,
    conda_archive,
    index,
    json_member,
    tar_bytes,
    write_conda,
)
from support.presses import LIBGREET, LIBGREETPP, PRESS, PYGREET, UNSAFE_HINT, Workspace

if TYPE_CHECKING:
    from pathlib import Path

#: Enough '../' to climb out of any temporary folder to the root, then down to outside/.
UP = "../" * 40
PLAIN_NAME = "(empty, or contains '/', '\\', '..' or a control character)"
NEEDED_HINT = (
    "hint: a wheel's binaries find their libraries by file name: rebuild the package linking "
    "its libraries by soname, or report it to the channel it came from"
)
SITE = "lib/python3.11/site-packages"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A folder to compile in (outside the workspace's view: it is made before the press)."""
    if shutil.which("gcc") is None:
        pytest.skip("no C compiler (gcc) on PATH: cannot build the test libraries")
    folder = tmp_path / "build"
    folder.mkdir()
    return folder


def compile_library(folder: Path, output: str, *args: str) -> bytes:
    """A real shared library built by gcc in *folder* (cwd, so relative inputs stay relative)."""
    (folder / "lib.c").write_text("int hostile(void) { return 42; }\n")
    (folder / output).parent.mkdir(parents=True, exist_ok=True)
    command = ["gcc", "-shared", "-fPIC", "lib.c", "-o", output, *args]
    subprocess.run(command, cwd=folder, check=True, capture_output=True)
    return (folder / output).read_bytes()


def press_argv(archive: Path, *more: str) -> tuple[str, ...]:
    return (str(archive), "--python", "3.11", "--fat", *more)


# -- 11.1: sonames and DT_NEEDED entries that are paths ----------------------------------------


def _hostile_library(case: str, build: Path, outside: Path) -> tuple[str, bytes, str]:
    """(member, ELF bytes, tag, the bad name) of each hostile library."""
    if case == "soname-escapes":  # a library in lib/: its mangled name would land outside
        soname = f"{UP}{str(outside).lstrip('/')}/evil.so.1"
        return "lib/libevil.so.1", compile_library(build, "x.so", f"-Wl,-soname,{soname}"), soname
    if case == "soname-overwrites":  # in site-packages, kept under its soname: the sentinel
        soname = f"{UP}{str(outside).lstrip('/')}/secret"
        data = compile_library(build, "x.so", f"-Wl,-soname,{soname}")
        return f"{SITE}/evil/libevil.so", data, soname
    if case == "soname-slash":
        return "lib/libevil.so.1", compile_library(build, "x.so", "-Wl,-soname,a/b.so"), "a/b.so"
    # A library linked by a path (no DT_SONAME in it): ld records the path as given.
    dependency = "sub/../sub/libdep.so" if case == "needed-dotdot" else str(build / "libdep.so")
    compile_library(build, dependency.replace("sub/../", ""))
    library = compile_library(build, "user.so", "-Wl,--no-as-needed", dependency)
    return "lib/libuser.so", library, dependency


LIBRARIES = ["soname-escapes", "soname-overwrites", "soname-slash", "needed-dotdot", "needed-abs"]


@pytest.mark.parametrize("case", LIBRARIES)
def test_library_names_that_are_paths_are_refused(
    case: str, build: Path, tmp_path: Path, workspace: Workspace
) -> None:
    member, data, name = _hostile_library(case, build, tmp_path / "outside")
    tag = "DT_SONAME" if case.startswith("soname") else "DT_NEEDED"
    elf = read_elf(build / ("x.so" if tag == "DT_SONAME" else "user.so"))
    assert name in ((elf.soname,) if tag == "DT_SONAME" else elf.needed)  # what gcc wrote
    archive = conda_archive(tmp_path / "feedstock", "evil", [M(member, data)])
    workspace.refused(
        FIXTURE_CHANNEL,
        f"error: {archive.name}: {member} has the {tag} {name!r}, which is not a plain file name "
        + PLAIN_NAME,
        UNSAFE_HINT if tag == "DT_SONAME" else NEEDED_HINT,
        argv=press_argv(archive),
    )


def test_rpath_entries_are_never_used_as_paths(
    build: Path, tmp_path: Path, workspace: Workspace
) -> None:
    # RPATH entries are not read for anything: every ELF file's RPATH is replaced or removed.
    rpath = f"/{UP}{tmp_path / 'outside'}:$ORIGIN/{UP}etc"
    data = compile_library(build, "x.so", "-Wl,-soname,libplain.so.1", f"-Wl,-rpath,{rpath}")
    assert read_elf(build / "x.so").runpath + read_elf(build / "x.so").rpath != ()
    archive = conda_archive(tmp_path / "feedstock", "plain", [M("lib/libplain.so.1", data)])
    run = workspace.press(FIXTURE_CHANNEL, *press_argv(archive))
    assert run.status == 0, run.stderr
    (wheel,) = (tmp_path / "out").iterdir()
    with zipfile.ZipFile(wheel) as zf:
        [library] = [n for n in zf.namelist() if n.startswith("plain_conda.libs/libplain-")]
        (build / "pressed.so").write_bytes(zf.read(library))
    pressed = read_elf(build / "pressed.so")
    assert (pressed.rpath, pressed.runpath) == ((), ())
    assert (tmp_path / "outside" / "secret").read_text() == "keep me"


# -- 11.1: names from metadata: the distribution name, console scripts -------------------------


def test_a_dist_info_name_that_is_a_path_is_refused(tmp_path: Path, workspace: Workspace) -> None:
    name = f"{UP}{str(tmp_path / 'outside').lstrip('/')}/dist"
    payload = [
        M("site-packages/demo/__init__.py", b"x = 1\n"),
        M("site-packages/demo-1.0.dist-info/METADATA", f"Name: {name}\nVersion: 1.0\n".encode()),
    ]
    archive = conda_archive(
        tmp_path / "feedstock", "distname", payload, noarch="python", subdir="noarch"
    )
    workspace.refused(
        FIXTURE_CHANNEL,
        f"error: {archive.name}: the Name {name!r} in its .dist-info/METADATA is not a valid "
        "distribution name (letters, digits, '.', '-' and '_', beginning and ending with a "
        "letter or digit)",
        UNSAFE_HINT,
        argv=press_argv(archive),
    )


@pytest.mark.parametrize("source", ["entry_points.txt", "link.json"])
def test_console_script_names_that_are_paths_are_refused(
    source: str, tmp_path: Path, workspace: Workspace
) -> None:
    script = f"{UP}{str(tmp_path / 'outside').lstrip('/')}/secret"
    payload = [
        M("site-packages/demo/__init__.py", b"def main(): pass\n"),
        M("site-packages/demo_py-1.0.dist-info/METADATA", METADATA),
    ]
    if source == "entry_points.txt":
        where = "site-packages/demo_py-1.0.dist-info/entry_points.txt"
        payload.append(M(where, f"[console_scripts]\n{script} = demo:main\n".encode()))
        archive = conda_archive(
            tmp_path / "feedstock", "scripts", payload, noarch="python", subdir="noarch"
        )
    else:
        where = "info/link.json"
        changes = {"noarch": "python", "subdir": "noarch"}
        package = Package(payload=payload, index=index(name="scripts", depends=[], **changes))
        link = {"noarch": {"type": "python", "entry_points": [f"{script} = demo:main"]}}
        info = [json_member("link.json", link) if m.name == where else m for m in package.info()]
        (tmp_path / "feedstock").mkdir()
        archive = write_conda(
            tmp_path / "feedstock" / "scripts-1.0-h0_0.conda",
            tar_bytes(info),
            tar_bytes(payload),
            stem="scripts-1.0-h0_0",
        )
    workspace.refused(
        FIXTURE_CHANNEL,
        f"error: {archive.name}: {where}: the console_scripts name {script!r} is not a plain "
        f"file name {PLAIN_NAME}",
        UNSAFE_HINT,
        argv=press_argv(archive),
    )


# -- 11.5: site-packages links to folders, and loops -------------------------------------------

BASE = [
    M(f"{SITE}/demo/__init__.py", b"x = 1\n"),
    M(f"{SITE}/demo_py-1.0.dist-info/METADATA", METADATA),
]


def test_a_link_to_a_folder_in_site_packages_is_copied_under_its_name(
    tmp_path: Path, workspace: Workspace
) -> None:
    payload = [
        *BASE,
        M(f"{SITE}/demo/impl/mod.py", b"y = 2\n"),
        M(f"{SITE}/demo/impl/deeper/leaf.py", b"z = 3\n"),
        M(f"{SITE}/demo/alias", kind="symlink", target="impl"),
    ]
    archive = conda_archive(tmp_path / "feedstock", "dirlink", payload)
    run = workspace.press(FIXTURE_CHANNEL, *press_argv(archive))
    assert run.status == 0, run.stderr
    (wheel,) = (tmp_path / "out").iterdir()
    with zipfile.ZipFile(wheel) as zf:
        files = {n: zf.read(n) for n in zf.namelist() if n.startswith("demo/")}
    assert files == {
        "demo/__init__.py": b"x = 1\n",
        "demo/alias/deeper/leaf.py": b"z = 3\n",
        "demo/alias/mod.py": b"y = 2\n",
        "demo/impl/deeper/leaf.py": b"z = 3\n",
        "demo/impl/mod.py": b"y = 2\n",
    }


@pytest.mark.parametrize(
    ("links", "refused", "why"),
    [
        (
            [("demo/a", "b"), ("demo/b", "a")],
            "demo/a",
            "it is a symbolic link loop",
        ),
        (
            [("demo/up", "..")],
            "demo/up",
            f"it is a symbolic link to the folder {SITE!r}, which leads back to it (a loop)",
        ),
        (
            [("demo/one/to-two", "../two"), ("demo/two/to-one", "../one")],
            "demo/one/to-two",
            (
                f"it is a symbolic link to the folder '{SITE}/demo/two', which leads back to it"
                " (a loop)"
            ),
        ),
    ],
    ids=["link-loop", "link-to-its-own-folder", "folders-linking-each-other"],
)
def test_symbolic_link_loops_in_site_packages_are_refused(
    links: list[tuple[str, str]],
    refused: str,
    why: str,
    tmp_path: Path,
    workspace: Workspace,
) -> None:
    payload = [*BASE, *(M(f"{SITE}/{link}", kind="symlink", target=to) for link, to in links)]
    folders = {link.rpartition("/")[0] for link, _ in links} - {"demo"}
    payload += [M(f"{SITE}/{folder}/mod.py", b"y = 2\n") for folder in sorted(folders)]
    archive = conda_archive(tmp_path / "feedstock", "loop", payload)
    workspace.refused(
        FIXTURE_CHANNEL,
        f"error: {archive.name}: refusing member '{SITE}/{refused}': {why}",
        UNSAFE_HINT,
        argv=press_argv(archive),
    )


# -- 11.7: merged packages that ship the same path ---------------------------------------------

DATA = "share/overlap/data.txt"
WHEEL_PATH = f"pygreet.libs/{DATA}"
LIBGREET_DIST = LIBGREET.removesuffix(".tar.bz2")
LIBGREETPP_DIST = LIBGREETPP.removesuffix(".conda")
PYGREET_DIST = PYGREET.removesuffix(".conda")


def add_files(archive: Path, files: dict[str, bytes]) -> None:
    """Add *files* to the fixture archive *archive*, listed in its paths.json, and reindex."""
    info, pkg = read_archive(archive)
    pkg += [file_member(name, data) for name, data in files.items()]
    for member in info:
        if member.info.name == "info/paths.json":
            paths = json.loads(member.data)
            paths["paths"] += [{"_path": name, "path_type": "hardlink"} for name in files]
            member.data = json.dumps(paths).encode()
    write_archive(archive, paths_json_for(info, pkg), pkg)
    reindex(archive)


def wheel_file(out: Path, name: str) -> bytes:
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(name)


def test_different_files_at_one_path_are_refused(
    channel: Path, workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    # pygreet --fat merges pygreet, libgreetpp and libgreet, in that order.
    add_files(channel / "linux-64" / LIBGREETPP, {DATA: b"from libgreetpp\n"})
    add_files(channel / "linux-64" / LIBGREET, {DATA: b"from libgreet\n"})
    workspace.refused(
        channel,
        f"error: {WHEEL_PATH!r} in the wheel would hold two different files: {DATA} of "
        f"{LIBGREETPP_DIST} and {DATA} of {LIBGREET_DIST}",
        f"hint: pass --allow-overlap to keep the file of {LIBGREETPP_DIST}, the first package in "
        "the plan's order, and leave the other out",
    )
    # --allow-overlap: the first package's file, and a warning that says which was left out
    caplog.clear()
    run = workspace.press(channel, *PRESS, "--allow-overlap")
    assert run.status == 0, run.stderr
    assert wheel_file(workspace.root / "out", WHEEL_PATH) == b"from libgreetpp\n"
    assert [
        (r.levelno, r.getMessage()) for r in caplog.records if r.name == "condapress._paths"
    ] == [
        (
            logging.WARNING,
            (
                f"{WHEEL_PATH!r} in the wheel would hold two different files: {DATA} of "
                f"{LIBGREETPP_DIST} and {DATA} of {LIBGREET_DIST}; keeping the first "
                "(--allow-overlap)"
            ),
        )
    ]


def test_the_same_file_at_one_path_is_kept_once(
    channel: Path, workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    add_files(channel / "linux-64" / LIBGREETPP, {DATA: b"the same\n"})
    add_files(channel / "linux-64" / LIBGREET, {DATA: b"the same\n"})
    caplog.set_level(logging.INFO, logger="condapress._paths")
    run = workspace.press(channel)
    assert run.status == 0, run.stderr
    assert wheel_file(workspace.root / "out", WHEEL_PATH) == b"the same\n"
    assert [
        (r.levelno, r.getMessage()) for r in caplog.records if r.name == "condapress._paths"
    ] == [
        (
            logging.INFO,
            (
                f"{WHEEL_PATH!r}: {DATA} of {LIBGREET_DIST} is the same file as {DATA} of "
                f"{LIBGREETPP_DIST}; the wheel holds it once"
            ),
        )
    ]


NFC, NFD = "pygreet/caf\u00e9.py", "pygreet/cafe\u0301.py"


@pytest.mark.parametrize("same", [True, False], ids=["same-content", "different-content"])
def test_one_name_in_two_unicode_normalizations(
    same: bool, channel: Path, workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    # macOS (and pip on it) stores both spellings as one file: the wheel holds one of them.
    files = {f"{SITE}/{NFC}": b"nfc = 1\n", f"{SITE}/{NFD}": b"nfc = 1\n" if same else b"nfd\n"}
    add_files(channel / "linux-64" / PYGREET, files)
    spelled = f"{NFC!a} (also spelled {NFD!a}, another Unicode normalization)"
    if not same:
        workspace.refused(
            channel,
            f"error: {spelled} in the wheel would hold two different files: {SITE}/{NFC} of "
            f"{PYGREET_DIST} and {SITE}/{NFD} of {PYGREET_DIST}",
            f"hint: pass --allow-overlap to keep the file of {PYGREET_DIST}, the first package "
            "in the plan's order, and leave the other out",
        )
        return
    caplog.set_level(logging.INFO, logger="condapress._paths")
    run = workspace.press(channel)
    assert run.status == 0, run.stderr
    (wheel,) = (workspace.root / "out").glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert [n for n in zf.namelist() if n.startswith("pygreet/caf")] == [NFC]
    assert [r.getMessage() for r in caplog.records if r.name == "condapress._paths"] == [
        (
            f"{spelled}: {SITE}/{NFD} of {PYGREET_DIST} is the same file as {SITE}/{NFC} of "
            f"{PYGREET_DIST}; the wheel holds it once"
        )
    ]


def test_a_file_where_another_package_has_a_folder_is_refused(
    channel: Path, workspace: Workspace
) -> None:
    add_files(channel / "linux-64" / LIBGREETPP, {"share/overlap": b"a file\n"})
    add_files(channel / "linux-64" / LIBGREET, {DATA: b"in a folder\n"})
    workspace.refused(
        channel,
        "error: 'pygreet.libs/share/overlap' in the wheel would be both a file (share/overlap of "
        f"{LIBGREETPP_DIST}) and a folder (of {DATA} of {LIBGREET_DIST})",
        f"hint: pass --allow-overlap to keep the file of {LIBGREETPP_DIST}, the first package in "
        "the plan's order, and leave the other out",
    )
