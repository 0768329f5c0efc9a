"""Press real osx-arm64 and osx-64 conda packages on Linux; check the wheels with oracles.

pyyaml (+ yaml) for osx-arm64 on CPython 3.12 and cffi (+ libffi, whose LC_RPATH names the build
prefix) on 3.10 come from conda-forge; cffi (+ libffi) for osx-64 on 3.9 from conda-forge too
(tests/data/macos-forge) and on 3.12 from Anaconda's ``defaults`` (tests/data/macos). A macOS wheel
cannot be installed here: pip shows that it would install it on the target, lief reads every
load command back, ``tests/macho_oracle.py`` checks every page hash of every signature, and
delocate lists what each wheel loads (through llvm-otool, when it is installed).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packaging.tags import mac_platforms

from condapress._cli import main
from condapress._datapaths import PLACEHOLDERS
from condapress.formats.macho import MACHO
from condapress.model import BinaryEdit
from support import REPO
from support.conda_archives import M, conda_archive
from support.macho_oracle import (
    code_signature_states,
    extract_binaries,
    lief_slices,
    wheel_binaries,
)
from support.presses import UNSAFE_HINT, Workspace

if TYPE_CHECKING:
    from collections.abc import Mapping

CHANNEL = REPO / "tests" / "data" / "macos"
FORGE_OSX_64 = REPO / "tests" / "data" / "macos-forge"
MANGLED = r"[0-9a-f]{8}"
PRESS_SCHEMA = json.loads(
    (REPO / "src" / "condapress" / "data" / "press-schema.json").read_text(encoding="utf-8")
)
SYSTEM = "/usr/lib/libSystem.B.dylib"


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    #: the wheels' file names, as regular expressions.
    wheels: tuple[str, ...]
    #: by wheel path (a regular expression), every load command of the binary (each one too).
    loads: dict[str, tuple[str, ...]]
    arch: str
    channel: Path = CHANNEL


CASES = {
    "pyyaml-arm64-fat": Case(
        ("pyyaml", "--subdir", "osx-arm64", "--python", "3.12", "--fat"),
        (r"pyyaml-6\.0\.3-cp312-cp312-macosx_11_0_arm64\.whl",),
        {
            "yaml/_yaml.cpython-312-darwin.so": (
                rf"@loader_path/\.\./pyyaml\.libs/libyaml-0\.2-{MANGLED}\.dylib",
                SYSTEM,
            ),
            rf"pyyaml\.libs/libyaml-0\.2-{MANGLED}\.dylib": (SYSTEM,),
        },
        "arm64",
    ),
    "pyyaml-arm64-split": Case(
        ("pyyaml", "--subdir", "osx-arm64", "--python", "3.12"),
        (
            r"pyyaml-6\.0\.3-cp312-cp312-macosx_11_0_arm64\.whl",
            r"yaml_conda-0\.2\.5-py3-none-macosx_11_0_arm64\.whl",
        ),
        {
            "yaml/_yaml.cpython-312-darwin.so": (
                rf"@loader_path/\.\./yaml_conda\.libs/libyaml-0\.2-{MANGLED}\.dylib",
                SYSTEM,
            ),
            rf"yaml_conda\.libs/libyaml-0\.2-{MANGLED}\.dylib": (SYSTEM,),
        },
        "arm64",
    ),
    "cffi-arm64-fat": Case(
        ("cffi", "--subdir", "osx-arm64", "--python", "3.10", "--fat"),
        (r"cffi-1\.16\.0-cp310-cp310-macosx_11_0_arm64\.whl",),
        {
            "_cffi_backend.cpython-310-darwin.so": (
                rf"@loader_path/cffi\.libs/libffi\.8-{MANGLED}\.dylib",
                SYSTEM,
            ),
            rf"cffi\.libs/libffi\.8-{MANGLED}\.dylib": (SYSTEM,),
        },
        "arm64",
    ),
    "cffi-x86_64-fat": Case(
        ("cffi", "--subdir", "osx-64", "--python", "3.12", "--fat"),
        (r"cffi-1\.17\.1-cp312-cp312-macosx_10_15_x86_64\.whl",),
        {
            "_cffi_backend.cpython-312-darwin.so": (
                rf"@loader_path/cffi\.libs/libffi\.8-{MANGLED}\.dylib",
                SYSTEM,
            ),
            rf"cffi\.libs/libffi\.8-{MANGLED}\.dylib": (SYSTEM,),
        },
        "x86_64",
    ),
    "cffi-forge-x86_64-fat": Case(
        ("cffi", "--subdir", "osx-64", "--python", "3.9", "--fat"),
        (r"cffi-1\.15\.1-cp39-cp39-macosx_10_9_x86_64\.whl",),
        {
            "_cffi_backend.cpython-39-darwin.so": (
                rf"@loader_path/cffi\.libs/libffi\.8-{MANGLED}\.dylib",
                SYSTEM,
            ),
            rf"cffi\.libs/libffi\.8-{MANGLED}\.dylib": (SYSTEM,),
        },
        "x86_64",
        FORGE_OSX_64,
    ),
    "cffi-forge-x86_64-split": Case(
        ("cffi", "--subdir", "osx-64", "--python", "3.9"),
        (
            r"cffi-1\.15\.1-cp39-cp39-macosx_10_9_x86_64\.whl",
            r"libffi_conda-3\.4\.2-py3-none-macosx_10_9_x86_64\.whl",
        ),
        {
            "_cffi_backend.cpython-39-darwin.so": (
                rf"@loader_path/libffi_conda\.libs/libffi\.8-{MANGLED}\.dylib",
                SYSTEM,
            ),
            rf"libffi_conda\.libs/libffi\.8-{MANGLED}\.dylib": (SYSTEM,),
        },
        "x86_64",
        FORGE_OSX_64,
    ),
}  # fmt: skip


def run(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(list(argv))
    return status, stdout.getvalue(), stderr.getvalue()


def press(out: Path, cache: Path, *argv: str, channel: Path = CHANNEL) -> list[Path]:
    status, stdout, stderr = run(
        "-c", str(channel), "--cache-dir", str(cache), "-o", str(out), *argv, "--json"
    )
    assert status == 0, stdout + stderr
    wheels = sorted(out.glob("*.whl"))
    # --json: the document of every wheel made; progress lines on standard error
    document = json.loads(stdout)
    jsonschema.validate(document, PRESS_SCHEMA)
    made = [Path(w["path"]) for p in document["presses"] for w in p["wheels"]]
    assert sorted(made) == wheels
    compressed = [line for line in stderr.splitlines() if line.startswith("compress: ")]
    assert len(compressed) == len(made)
    for line, path in zip(compressed, made, strict=True):
        size = r"[\d.]+ (?:B|KiB|MiB)"
        assert re.fullmatch(rf"compress: {re.escape(path.name)}, {size} of files into {size}", line)
    return wheels


@dataclass(frozen=True)
class Pressed:
    case: Case
    wheels: list[Path]
    #: every wheel extracted into one folder, as pip installs them into site-packages.
    site: Path
    #: every binary of the wheels, extracted: its wheel path -> the file.
    binaries: dict[str, Path]


@pytest.fixture(scope="module", params=list(CASES))
def pressed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Pressed:
    case = CASES[request.param]
    tmp = tmp_path_factory.mktemp(request.param)
    cache = tmp_path_factory.getbasetemp() / "cache"
    wheels = press(tmp / "wheelhouse", cache, *case.argv, channel=case.channel)
    site = tmp / "site"
    binaries: dict[str, Path] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(site)
        binaries |= wheel_binaries(wheel, tmp / "binaries")
    return Pressed(case, wheels, site, binaries)


def matching(patterns: Mapping[str, tuple[str, ...]], path: str) -> tuple[str, ...]:
    [found] = [value for pattern, value in patterns.items() if re.fullmatch(pattern, path)]
    return found


def test_the_wheels_and_their_tags(pressed: Pressed) -> None:
    names = [wheel.name for wheel in pressed.wheels]
    assert len(names) == len(pressed.case.wheels)
    for name, pattern in zip(names, pressed.case.wheels, strict=True):
        assert re.fullmatch(pattern, name), name
    for wheel in pressed.wheels:
        with zipfile.ZipFile(wheel) as zf:
            [wheel_file] = [n for n in zf.namelist() if n.endswith(".dist-info/WHEEL")]
            tags = [
                line[5:]
                for line in zf.read(wheel_file).decode().splitlines()
                if line.startswith("Tag: ")
            ]
        assert tags == [wheel.name.removesuffix(".whl").split("-", 2)[2]]


def test_licenses_and_provenance_of_every_member(pressed: Pressed) -> None:
    for wheel in pressed.wheels:
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            [record] = [n for n in names if n.endswith(".dist-info/conda-packages.json")]
            members = [p["name"] for p in json.loads(zf.read(record))["packages"]]
            metadata = zf.read(record.replace("conda-packages.json", "METADATA")).decode()
        dist_info = record.rpartition("/")[0]
        for member in members:
            assert any(n.startswith(f"{dist_info}/licenses/{member}/") for n in names), member
            assert f"License-File: {member}/" in metadata


def test_the_sbom_names_every_member(pressed: Pressed) -> None:
    for wheel in pressed.wheels:
        with zipfile.ZipFile(wheel) as zf:
            [record] = [n for n in zf.namelist() if n.endswith(".dist-info/conda-packages.json")]
            members = [p["name"] for p in json.loads(zf.read(record))["packages"]]
            sbom = zf.read(record.replace("conda-packages.json", "sboms/conda-packages.cdx.json"))
        assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom.decode()) is None
        components = json.loads(sbom)["components"]
        assert sorted(c["name"] for c in components) == sorted(members)
        subdir = pressed.case.argv[pressed.case.argv.index("--subdir") + 1]
        assert all(f"&subdir={subdir}&" in c["purl"] for c in components)


def test_every_install_name_and_load_command_read_back_by_lief(pressed: Pressed) -> None:
    assert len(pressed.binaries) == len(pressed.case.loads)
    for path, file in pressed.binaries.items():
        [piece] = lief_slices(file)  # conda's binaries are thin
        assert piece.arch == pressed.case.arch
        assert piece.rpaths == ()
        patterns = matching(pressed.case.loads, path)
        assert len(piece.loads) == len(patterns)
        for load, pattern in zip(piece.loads, patterns, strict=True):
            assert re.fullmatch(pattern, load), (path, load)
        if path.endswith(".so"):  # an extension module (a bundle) has no install name
            assert piece.install_name is None
        else:  # a bundled library's is its own file name, mangled like it
            assert piece.install_name == f"@rpath/{posixpath.basename(path)}"


def test_every_load_resolves_to_a_file_of_the_installed_wheels(pressed: Pressed) -> None:
    for path, file in pressed.binaries.items():
        for load in MACHO.read(file).needed:
            if load.startswith("/"):
                assert load.startswith(("/usr/lib/", "/System/")), (path, load)
                continue
            assert load.startswith("@loader_path/"), (path, load)
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), load[13:]))
            assert (pressed.site / target).is_file(), (path, load)


def test_every_signature_verifies_page_by_page(pressed: Pressed) -> None:
    for path, file in pressed.binaries.items():
        states = code_signature_states(file.read_bytes())
        if pressed.case.arch == "arm64":
            assert re.fullmatch(r"valid \([12] CodeDirectories\)", states["arm64"]), (path, states)
        else:  # conda's x86_64 binaries (both channels) are not signed, and need not be
            assert states == {"x86_64": "unsigned"}


def test_no_build_prefix_survives(pressed: Pressed) -> None:
    for path, file in pressed.binaries.items():
        data = file.read_bytes()
        for placeholder in PLACEHOLDERS:
            assert placeholder.encode() not in data, (path, placeholder)
        facts = MACHO.read(file)
        assert facts.rpath == ()
        assert all(n.startswith(("@loader_path/", "/usr/lib/")) for n in facts.needed)


def test_condapress_audit_finds_nothing_wrong(pressed: Pressed) -> None:
    status, stdout, stderr = run("audit", "--json", *map(str, pressed.wheels))
    assert status == 0, stderr
    document = json.loads(stdout)
    for wheel in document["wheels"]:
        assert wheel["ok"]
        serious = [f["code"] for f in wheel["findings"] if f["level"] != "info"]
        if len(pressed.wheels) == 1:
            assert serious == []
        else:  # split: a wheel alone loads its library from the wheel it requires
            assert set(serious) <= {"library-from-other-wheel"}
        for library in wheel["libraries"]:
            if pressed.case.arch == "arm64":
                assert library["signature"] == "arm64: valid"
                assert library["minos"] == "11.0"
            else:
                assert library["signature"] == "x86_64: none"


def test_pip_would_install_the_wheels_on_their_platform_only(
    pressed: Pressed, tmp_path: Path
) -> None:
    wheel = pressed.wheels[0]
    platform = wheel.name.removesuffix(".whl").rsplit("-", 1)[1]
    python = wheel.name.split("-")[2].removeprefix("cp")
    version = f"{python[0]}.{python[1:]}"
    name = wheel.name.split("-")[0]

    def pip_install(platform: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--no-deps",
                "--ignore-installed", "--only-binary=:all:", "--platform", platform,
                "--python-version", version, "--target", str(tmp_path / "target"), "--no-index",
                "--find-links", str(wheel.parent), name]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    accepted = pip_install(platform)
    assert accepted.returncode == 0, accepted.stderr
    assert re.search(rf"Would install {re.escape(name)}-", accepted.stdout, re.IGNORECASE)
    major, minor = map(int, platform.split("_")[1:3])
    # arm64 wheels refuse Intel Macs; an x86_64 wheel refuses a macOS older than its tag's
    other = (
        "macosx_10_9_x86_64"
        if pressed.case.arch == "arm64"
        else f"macosx_{major}_{minor - 1}_x86_64"
    )
    refused = pip_install(other)
    assert refused.returncode == 1
    assert "No matching distribution found" in refused.stderr
    # packaging.tags: the platforms macOS 11 on Apple silicon (or 10.15 on Intel) accepts
    host = ((11, 0), "arm64") if pressed.case.arch == "arm64" else ((10, 15), "x86_64")
    assert platform in set(mac_platforms(*host))


def otool_shim(folder: Path) -> dict[str, str]:
    """PATH with an ``otool`` that runs llvm-otool-14 (without ``-m``, which it lacks)."""
    llvm = shutil.which("llvm-otool-14")
    if llvm is None:
        pytest.skip("llvm-otool-14 is not installed (apt install llvm-14): delocate needs otool")
    shim = folder / "otool"
    shim.write_text(
        f'#!/bin/sh\nfor a; do shift; [ "$a" = -m ] || set -- "$@" "$a"; done\nexec {llvm} "$@"\n'
    )
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def test_delocate_lists_what_the_wheels_load(pressed: Pressed, tmp_path: Path) -> None:
    env = otool_shim(tmp_path)
    listdeps = shutil.which("delocate-listdeps", path=str(Path(sys.executable).parent))
    assert listdeps is not None
    # the wheels extracted together (split wheels load from each other), as pip installs them
    result = subprocess.run(
        [listdeps, "--all", str(pressed.site)], capture_output=True, text=True, check=False, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "not found" not in result.stderr
    bundled = [str(pressed.site / path) for path in pressed.binaries if ".libs/" in path]
    assert sorted(result.stdout.split()) == sorted([SYSTEM, *bundled])


def test_llvm_otool_reads_the_same_load_commands(pressed: Pressed) -> None:
    otool = shutil.which("llvm-otool-14")
    if otool is None:
        pytest.skip("llvm-otool-14 is not installed (apt install llvm-14)")
    for file in pressed.binaries.values():
        listing = subprocess.run(
            [otool, "-L", str(file)], capture_output=True, text=True, check=True
        )
        named = [
            line.split(" (compatibility")[0].strip() for line in listing.stdout.splitlines()[1:]
        ]
        facts = MACHO.read(file)
        assert named == [*([facts.soname] if facts.soname else []), *facts.needed]


def test_the_same_press_gives_the_same_bytes(tmp_path: Path) -> None:
    argv = CASES["pyyaml-arm64-fat"].argv
    first = press(tmp_path / "a", tmp_path / "cache", *argv)
    second = press(tmp_path / "b", tmp_path / "cache", *argv)
    assert [w.name for w in first] == [w.name for w in second]
    assert [hashlib.sha256(w.read_bytes()).digest() for w in first] == [
        hashlib.sha256(w.read_bytes()).digest() for w in second
    ]


# -- the target macOS, and names that are paths ----------------------------------------------


def test_builds_for_a_later_macos_than_asked_are_not_chosen(tmp_path: Path) -> None:
    status, _stdout, stderr = run(
        "-c", str(CHANNEL), "--cache-dir", str(tmp_path / "cache"), "-o", str(tmp_path / "out"),
        "pyyaml", "--subdir", "osx-arm64", "--python", "3.12", "--macos", "10.15", "-q",
    )  # fmt: skip
    assert status == 1
    assert stderr.splitlines() == [
        (
            "error: cannot solve 'pyyaml' for python 3.12 on osx-arm64: pyyaml * cannot be "
            "installed because there are no viable options: pyyaml 6.0.3 would require __osx "
            ">=11.0, for which no candidates were found."
        ),
        (
            "hint: its builds need macOS 11.0 or later, more than --macos 10.15: pass --macos "
            "11.0 (the wheels' tags follow their binaries either way)"
        ),
    ]
    status, _stdout, stderr = run(
        "-c", str(CHANNEL), "-o", str(tmp_path / "out"), "pyyaml", "--subdir", "osx-arm64",
        "--macos", "11",
    )  # fmt: skip
    assert status == 1
    assert stderr.splitlines() == [
        "error: macOS version '11' is not of the form X.Y",
        "hint: pass the oldest macOS the wheels are for as major.minor, e.g. --macos 11.0",
    ]


@pytest.mark.parametrize("install_name", ["@rpath/..", "@rpath/lib\x1bevil.dylib"])
def test_an_install_name_whose_file_name_is_not_plain_is_refused(
    install_name: str, tmp_path: Path, workspace: Workspace
) -> None:
    library = extract_binaries(tmp_path / "binaries")["libyaml"]
    edit = BinaryEdit("x", set_soname=install_name, sign=True)
    MACHO.apply_edit(library, edit, tmp_path / "evil.dylib")
    assert MACHO.read(tmp_path / "evil.dylib").soname == install_name
    member = "lib/libevil.dylib"
    archive = conda_archive(
        tmp_path / "feedstock", "evil", [M(member, (tmp_path / "evil.dylib").read_bytes())],
        subdir="osx-arm64",
    )  # fmt: skip
    file_name = install_name.rpartition("/")[2]
    workspace.refused(
        CHANNEL,
        f"error: {archive.name}: {member} has the install name (LC_ID_DYLIB) {install_name!r}, "
        f"whose file name {file_name!r} is not a plain file name (empty, or contains '\\', '..' or "
        "a control character)",
        UNSAFE_HINT,
        argv=(str(archive), "--subdir", "osx-arm64", "--python", "3.12", "--fat"),
    )
