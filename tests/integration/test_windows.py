"""Press real Windows conda packages into win_amd64 wheels; check them with tools of others.

The oracles: pefile reads every import table back, ``delvewheel show --ignore-existing`` lists
what each extension module needs and where it is, pip accepts (or refuses) the wheel for a
platform, CPython runs the generated import hook, and, where wine and mingw-w64 are installed,
the Windows loader itself loads the extension module and runs the programs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jsonschema
import pefile
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from condapress._cli import main
from condapress.formats.pe._edit import rename_imports
from condapress.formats.pe._read import MAX_PE_FILE
from condapress.model import ConsoleScript, EnvSetting
from condapress.relocate import _hook
from support import REPO
from support.conda_archives import M, Package, archive_member, index
from support.hostile_wheels import Inflating, write_wheel
from support.venvs import cpython

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

WIN64 = REPO / "tests" / "data" / "win-64"
CONDA_FORGE = WIN64 / "conda-forge"
ANACONDA = WIN64 / "anaconda-main"
PYD = "yaml/_yaml.cp39-win_amd64.pyd"
PRESS_SCHEMA = json.loads(
    (REPO / "src" / "condapress" / "data" / "press-schema.json").read_text(encoding="utf-8")
)
HOOK_LINE = "from . import _condapress_env  # points bundled libraries at their data\n"


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def mangled(wheel: Path, dll: str) -> str:
    """The one file of *wheel*'s ``.libs`` folder that is *dll* renamed with 8 hex digits."""
    stem = re.escape(dll.removesuffix(".dll"))
    with zipfile.ZipFile(wheel) as zf:
        [found] = [
            name.rpartition("/")[2]
            for name in zf.namelist()
            if re.fullmatch(rf"[a-z_]+\.libs/{stem}-[0-9a-f]{{8}}\.dll", name)
        ]
    return found


def conda_file(channel: Path, file_name: str, path: str) -> bytes:
    return archive_member(channel / "win-64" / file_name, path)


def imports(data: bytes) -> list[str]:
    """The DLL names of the import and delay-import tables, as the file spells them (pefile)."""
    pe = pefile.PE(data=data)
    entries = [
        *getattr(pe, "DIRECTORY_ENTRY_IMPORT", []),
        *getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", []),
    ]
    return [entry.dll.decode() for entry in entries]


def section(data: bytes, name: bytes) -> bytes:
    pe = pefile.PE(data=data, fast_load=True)
    found = next(s for s in pe.sections if s.Name.rstrip(b"\0") == name)
    return bytes(found.get_data())


def members(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def delvewheel_show(wheel: Path) -> dict[str, list[str]]:
    """``delvewheel show --ignore-existing``, by section: the lines under each heading."""
    result = subprocess.run(
        [sys.executable, "-m", "delvewheel", "show", "--ignore-existing", str(wheel)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Not Found" not in result.stdout + result.stderr
    sections: dict[str, list[str]] = {}
    heading = ""
    for line in result.stdout.splitlines():
        if line.startswith("The following DLLs"):
            heading = line
            sections[heading] = []
        elif line.startswith("    ") and heading:
            sections[heading].append(line.strip())
    return sections


@dataclass(frozen=True)
class Pressed:
    wheel: Path
    out: str
    err: str = ""


@pytest.fixture(scope="module")
def pyyaml(tmp_path_factory: pytest.TempPathFactory) -> Pressed:
    tmp = tmp_path_factory.mktemp("pyyaml-win")
    status, out, err = run(
        "pyyaml", "--subdir", "win-64", "--python", "3.9", "-c", CONDA_FORGE, "--fat",
        "--cache-dir", tmp / "cache", "-o", tmp / "wheelhouse", "--json",
    )  # fmt: skip
    assert status == 0, err
    return Pressed(tmp / "wheelhouse" / "pyyaml-5.4.1-cp39-cp39-win_amd64.whl", out, err)


@pytest.fixture(scope="module")
def zstandard_wheel(tmp_path_factory: pytest.TempPathFactory) -> Pressed:
    tmp = tmp_path_factory.mktemp("zstandard-win")
    status, out, err = run(
        "zstandard", "--subdir", "win-64", "--python", "3.11", "-c", ANACONDA, "-c", CONDA_FORGE,
        "--fat", "--cache-dir", tmp / "cache", "-o", tmp / "wheelhouse",
    )  # fmt: skip
    assert status == 0, err
    return Pressed(tmp / "wheelhouse" / "zstandard-0.23.0-cp311-cp311-win_amd64.whl", out)


def test_progress_json_and_sbom_of_a_windows_press(pyyaml: Pressed) -> None:
    progress = [line.partition(",")[0] for line in pyyaml.err.splitlines()]
    assert progress == [
        "solve: pyyaml for python 3.9 on win-64",
        "solve: 6 packages in the closure",
        "unpack: 2 archives",
        "unpack: pyyaml-5.4.1-py39hb82d6ee_1.tar.bz2",
        "unpack: yaml-0.2.5-he774522_0.tar.bz2",
        "patch: PyYAML",
        f"compress: {pyyaml.wheel.name}",
    ]
    document = json.loads(pyyaml.out)
    jsonschema.validate(document, PRESS_SCHEMA)
    [made] = document["presses"]
    assert (made["subdir"], made["python"]) == ("win-64", "3.9")
    [entry] = made["wheels"]
    assert (entry["path"], entry["members"]) == (str(pyyaml.wheel), ["pyyaml", "yaml"])
    assert entry["audit"]["findings"] == []
    sbom = members(pyyaml.wheel)["pyyaml-5.4.1.dist-info/sboms/conda-packages.cdx.json"]
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom.decode()) is None
    purls = [c["purl"] for c in json.loads(sbom)["components"]]
    query = "channel=conda-forge&subdir=win-64&type=tar.bz2"
    assert purls == [
        f"pkg:conda/pyyaml@5.4.1?build=py39hb82d6ee_1&{query}",
        f"pkg:conda/yaml@0.2.5?build=he774522_0&{query}",
    ]


def test_pyyaml_presses_into_a_win_amd64_wheel_with_its_dll_mangled(pyyaml: Pressed) -> None:
    yaml_dll = mangled(pyyaml.wheel, "yaml.dll")
    files = members(pyyaml.wheel)
    wheel_file = files["pyyaml-5.4.1.dist-info/WHEEL"].decode()
    assert "Root-Is-Purelib: false\nTag: cp39-cp39-win_amd64\n" in wheel_file
    assert sorted(f for f in files if f.startswith("pyyaml.libs/")) == [f"pyyaml.libs/{yaml_dll}"]
    # Build-system files and conda's egg-info stay out; the two packages of site-packages are in.
    assert not [f for f in files if "cmake" in f or "egg-info" in f]
    assert {f.split("/")[0] for f in files} == {
        "_yaml",
        "yaml",
        "pyyaml.libs",
        "pyyaml-5.4.1.dist-info",
    }
    # Every import table, read back by pefile: the extension module imports the mangled DLL,
    # every other name as conda built it; the DLL itself is byte for byte conda's.
    original = conda_file(
        CONDA_FORGE, "pyyaml-5.4.1-py39hb82d6ee_1.tar.bz2", f"Lib/site-packages/{PYD}"
    )
    assert imports(original) == [
        "yaml.dll", "python39.dll", "KERNEL32.dll", "VCRUNTIME140.dll",
        "api-ms-win-crt-runtime-l1-1-0.dll",
    ]  # fmt: skip
    assert imports(files[PYD]) == [yaml_dll, *imports(original)[1:]]
    assert section(files[PYD], b".text") == section(original, b".text")
    assert len(files[PYD]) == len(original)
    conda_dll = conda_file(CONDA_FORGE, "yaml-0.2.5-he774522_0.tar.bz2", "Library/bin/yaml.dll")
    assert files[f"pyyaml.libs/{yaml_dll}"] == conda_dll


def test_the_import_hook_adds_the_dll_folder(pyyaml: Pressed) -> None:
    files = members(pyyaml.wheel)
    for package in ("yaml", "_yaml"):
        init = files[f"{package}/__init__.py"].decode()
        assert init.startswith(HOOK_LINE)
        hook = files[f"{package}/_condapress_env.py"].decode()
        assert "\n_DLL_DIRECTORIES = ('pyyaml.libs',)\n" in hook
        assert hook.endswith(
            "_add_dll_directories(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))\n"
        )


def test_delvewheel_finds_every_dll_in_the_wheel_or_the_system(
    pyyaml: Pressed, zstandard_wheel: Pressed
) -> None:
    yaml_dll = mangled(pyyaml.wheel, "yaml.dll")
    shown = delvewheel_show(pyyaml.wheel)
    assert shown == {
        "The following DLLs will be copied into the wheel.": ["None"],
        "The following DLLs are already in the wheel and will not be copied.": [
            f"{yaml_dll} (pyyaml-5.4.1-cp39-cp39-win_amd64.whl/pyyaml.libs/{yaml_dll})"
        ],
        "The following DLLs are assumed to be present in the end user's environment and will "
        "not be copied into the wheel.": [
            "api-ms-win-crt-heap-l1-1-0.dll", "api-ms-win-crt-runtime-l1-1-0.dll",
            "api-ms-win-crt-stdio-l1-1-0.dll", "api-ms-win-crt-string-l1-1-0.dll",
            "kernel32.dll", "python39.dll", "vcruntime140.dll",
        ],
    }  # fmt: skip
    zstd_dll = mangled(zstandard_wheel.wheel, "zstd.dll")
    shown = delvewheel_show(zstandard_wheel.wheel)
    assert shown["The following DLLs will be copied into the wheel."] == ["None"]
    assert shown["The following DLLs are already in the wheel and will not be copied."] == [
        f"{zstd_dll} (zstandard-0.23.0-cp311-cp311-win_amd64.whl/zstandard.libs/{zstd_dll})"
    ]


def test_condapress_audit_finds_nothing_wrong(pyyaml: Pressed, zstandard_wheel: Pressed) -> None:
    for wheel in (pyyaml.wheel, zstandard_wheel.wheel):
        status, out, _ = run("audit", wheel)
        assert status == 0
        assert f"\n{wheel.name}: ok (0 errors, 0 warnings, 0 notes)\n" in out


def test_pip_takes_the_wheel_for_windows_only(pyyaml: Pressed, tmp_path: Path) -> None:
    def dry_run(platform: str) -> subprocess.CompletedProcess[str]:
        argv = [
            sys.executable, "-m", "pip", "--isolated", "install", "--dry-run",
            "--platform", platform, "--python-version", "3.9", "--only-binary=:all:",
            "--target", str(tmp_path / "target"), "--no-index",
            "--find-links", str(pyyaml.wheel.parent), "PyYAML",
        ]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    accepted = dry_run("win_amd64")
    assert accepted.returncode == 0, accepted.stderr
    assert "Would install PyYAML-5.4.1" in accepted.stdout
    refused = dry_run("manylinux2014_x86_64")
    assert refused.returncode != 0
    assert "No matching distribution found for PyYAML" in refused.stderr


def test_the_hook_adds_the_installed_dll_folder_before_the_package_runs(
    pyyaml: Pressed, tmp_path: Path
) -> None:
    python = cpython("3.9")
    target = tmp_path / "site"
    subprocess.run(
        [
            # pip checks Requires-Python against its own interpreter when it installs (and
            # supports no 3.9 as --python): the dry run above checks it against 3.9.
            sys.executable, "-m", "pip", "--isolated", "install", "--platform", "win_amd64",
            "--python-version", "3.9", "--ignore-requires-python", "--only-binary=:all:",
            "--target", str(target), "--no-index", "--find-links", str(pyyaml.wheel.parent),
            "PyYAML",
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    # CPython on Linux has no os.add_dll_directory: record the calls instead. The rest of
    # PyYAML's __init__.py then fails here (its egg-style yaml/_yaml.py stub finds no
    # extension module that Linux can load), after the hook ran.
    script = (
        "import json, os, sys\n"
        "calls = []\n"
        "os.add_dll_directory = lambda path: calls.append(path) or path\n"
        f"sys.path.insert(0, {str(target)!r})\n"
        "try:\n"
        "    import yaml\n"
        "except AttributeError as exc:\n"
        "    print(json.dumps([calls, str(exc)]))\n"
    )
    result = subprocess.run([python, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == [
        [str(target / "pyyaml.libs")],
        "'NoneType' object has no attribute 'loader'",
    ]


def test_the_same_packages_press_into_the_same_bytes(pyyaml: Pressed, tmp_path: Path) -> None:
    status, _, err = run(
        "pyyaml", "--subdir", "win-64", "--python", "3.9", "-c", CONDA_FORGE, "--fat",
        "--cache-dir", tmp_path / "cache", "-o", tmp_path,
    )  # fmt: skip
    assert status == 0, err
    assert (tmp_path / pyyaml.wheel.name).read_bytes() == pyyaml.wheel.read_bytes()


def test_the_msvc_runtime_is_the_system_s_never_a_requirement() -> None:
    status, out, err = run(
        "plan", "pyyaml", "--subdir", "win-64", "--python", "3.9", "-c", CONDA_FORGE, "--json"
    )
    assert status == 0, err
    plan = json.loads(out)
    decisions = {p["name"]: (p["class"], p["becomes"]) for p in plan["packages"]}
    for name in ("vc", "vs2015_runtime", "ucrt", "python_abi"):
        assert decisions[name] == ("system", "dropped")
    assert decisions["yaml"] == ("native", "wheel")
    [pyyaml] = [w for w in plan["wheels"] if w["distribution"] == "PyYAML"]
    assert pyyaml["requires_dist"] == ["yaml-conda==0.2.5"]


def test_split_wheels_agree_on_the_dll_name_and_the_hook_adds_the_other_wheel_s_folder(
    tmp_path: Path,
) -> None:
    status, out, err = run(
        "pyyaml", "--subdir", "win-64", "--python", "3.9", "-c", CONDA_FORGE,
        "--cache-dir", tmp_path / "cache", "-o", tmp_path,
    )  # fmt: skip
    assert status == 0, err
    assert [line.split()[1] for line in out.splitlines()] == [
        "cp39-cp39-win_amd64",
        "py3-none-win_amd64",
    ]
    native = tmp_path / "yaml_conda-0.2.5-py3-none-win_amd64.whl"
    files = members(tmp_path / "pyyaml-5.4.1-cp39-cp39-win_amd64.whl")
    dll = mangled(native, "yaml.dll")
    assert imports(files[PYD])[0] == dll
    assert (
        "\n_DLL_DIRECTORIES = ('yaml_conda.libs',)\n" in files["yaml/_condapress_env.py"].decode()
    )
    assert "Requires-Dist: yaml-conda==0.2.5\n" in files["pyyaml-5.4.1.dist-info/METADATA"].decode()


def test_a_top_level_module_finds_its_dlls_beside_it(tmp_path: Path) -> None:
    # No __init__.py runs before a module at the top of site-packages: its DLLs go beside it,
    # at the root of the wheel, as delvewheel puts them (brotli-python's _brotli.pyd is such).
    pyd = conda_file(CONDA_FORGE, "pyyaml-5.4.1-py39hb82d6ee_1.tar.bz2", f"Lib/site-packages/{PYD}")
    package = Package(
        payload=[M("Lib/site-packages/_yaml.cp39-win_amd64.pyd", pyd)],
        index=index(subdir="win-64", depends=["yaml >=0.2.5"]),
    )
    status, _, err = run(
        package.conda(tmp_path), "--subdir", "win-64", "--python", "3.9", "-c", CONDA_FORGE,
        "--fat", "--cache-dir", tmp_path / "cache", "-o", tmp_path / "out",
    )  # fmt: skip
    assert status == 0, err
    [wheel] = (tmp_path / "out").glob("*.whl")
    files = members(wheel)
    [dll] = [name for name in files if name.endswith(".dll")]
    assert re.fullmatch(r"yaml-[0-9a-f]{8}\.dll", dll)
    assert imports(files["_yaml.cp39-win_amd64.pyd"])[0] == dll
    assert not [name for name in files if name.endswith("_condapress_env.py")]
    shown = delvewheel_show(wheel)
    assert shown["The following DLLs are already in the wheel and will not be copied."] == [
        f"{dll} ({wheel.name}/{dll})"
    ]
    status, out, _ = run("audit", wheel)
    assert status == 0
    assert f"\n{wheel.name}: ok (0 errors, 0 warnings, 0 notes)\n" in out


def test_programs_on_conda_s_path_become_commands_and_a_package_s_own_stay_data(
    tmp_path: Path,
) -> None:
    xz = conda_file(ANACONDA, "xz-5.4.6-h8cc25b3_1.conda", "Library/bin/xz.exe")
    package = Package(
        payload=[
            M("Lib/site-packages/demo/__init__.py", b""),
            M("Lib/site-packages/demo/cli-64.exe", xz),  # as setuptools carries its launchers
            M("Library/bin/xz.exe", xz),
            M("Scripts/demo.exe", xz),  # conda's launcher of an entry point, and its script
            M("Scripts/demo-script.py", b"import demo\n"),
            M("Library/bin/demo-env.bat", b"@set DEMO=%~dp0\n"),
        ],
        index=index(subdir="win-64", depends=[]),
    )
    status, _, err = run(
        package.conda(tmp_path), "--subdir", "win-64", "--python", "3.9",
        "--cache-dir", tmp_path / "cache", "-o", tmp_path / "out",
    )  # fmt: skip
    assert status == 0, err
    [wheel] = (tmp_path / "out").glob("*.whl")
    files = members(wheel)
    assert sorted(f for f in files if ".dist-info/" not in f) == [
        "demo.libs/xz.exe",
        "demo/__init__.py",
        "demo/_condapress_env.py",
        "demo/cli-64.exe",
    ]
    assert files["demo/cli-64.exe"] == xz
    assert files["demo-1.0.dist-info/entry_points.txt"].decode() == (
        "[console_scripts]\nxz = demo._condapress_env:_run_xz\n"
    )


def test_zstandard_bundles_zstd_and_runs_its_programs_through_console_scripts(
    zstandard_wheel: Pressed,
) -> None:
    files = members(zstandard_wheel.wheel)
    zstd = "zstd-1.5.6-h8880b57_0.conda"
    names = {
        dll: mangled(zstandard_wheel.wheel, dll)
        for dll in ("zstd.dll", "libzstd.dll", "zlib.dll", "liblz4.dll", "liblzma.dll")
    }
    libs = sorted(f.removeprefix("zstandard.libs/") for f in files if f.endswith(".dll"))
    # One zlib: conda's copy at the prefix root (for python.exe) stays out.
    assert libs == sorted(names.values())
    backend = "zstandard/backend_c.cp311-win_amd64.pyd"
    assert imports(files[backend])[0] == names["zstd.dll"]
    assert imports(files["zstandard.libs/zstd.exe"])[:2] == [names["zlib.dll"], names["liblz4.dll"]]
    # Renaming an import voids the signature Anaconda put on the file: it is gone; the DLLs
    # no rename touched keep theirs, byte for byte.
    original = conda_file(
        ANACONDA, "zstandard-0.23.0-py311h4fc1ca9_1.conda", f"Lib/site-packages/{backend}"
    )
    security = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]
    assert pefile.PE(data=original).OPTIONAL_HEADER.DATA_DIRECTORY[security].Size > 0
    edited = pefile.PE(data=files[backend])
    assert edited.OPTIONAL_HEADER.DATA_DIRECTORY[security].Size == 0
    assert edited.OPTIONAL_HEADER.CheckSum == edited.generate_checksum()
    dll = conda_file(ANACONDA, zstd, "Library/bin/zstd.dll")
    assert files[f"zstandard.libs/{names['zstd.dll']}"] == dll
    entry_points = files["zstandard-0.23.0.dist-info/entry_points.txt"].decode()
    assert "zstd = zstandard._condapress_env:_run_zstd\n" in entry_points
    assert "xz = zstandard._condapress_env:_run_xz\n" in entry_points
    hook = files["zstandard/_condapress_env.py"].decode()
    function = (
        "def _run_zstd():\n"
        '    """Run one executable of the wheel."""\n'
        "    return _launch('zstandard.libs/zstd.exe')\n"
    )
    assert function in hook
    assert "cffi" in files["zstandard-0.23.0.dist-info/METADATA"].decode()


def test_a_console_script_runs_its_program_with_the_wheel_s_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # The launcher's logic, run here on a stand-in program (a shell script named tool.exe).
    (tmp_path / "demo.libs" / "share").mkdir(parents=True)
    program = tmp_path / "demo.libs" / "tool.exe"
    program.write_text('#!/bin/sh\necho "$DEMO_DATA" "$@"\nexit 3\n')
    program.chmod(0o755)
    data = EnvSetting("DEMO_DATA", "demo.libs/share", "share", "demo", "demo.libs", at_import=False)
    settings = [data]
    script = ConsoleScript("tool", "demo._condapress_env", "_run_tool", "demo.libs/tool.exe")
    source = _hook.hook_source(settings, (), (script,))
    monkeypatch.delenv("DEMO_DATA", raising=False)
    namespace: dict[str, object] = {"__file__": str(tmp_path / "demo" / "_condapress_env.py")}
    exec(compile(source, "_condapress_env.py", "exec"), namespace)  # noqa: S102 - our own output
    assert "DEMO_DATA" not in os.environ  # at_import false: only the programs get it
    monkeypatch.setattr(sys, "argv", ["tool", "--version"])
    run = namespace["_run_tool"]
    assert callable(run)
    assert run() == 3
    assert capfd.readouterr().out == f"{tmp_path / 'demo.libs' / 'share'} --version\n"


# --- the audit of Windows wheels built by hand from the pressed one


def rebuilt(
    pyyaml: Pressed,
    tmp_path: Path,
    changes: Mapping[str, bytes | None] | None = None,
    tag: str = "cp39-cp39-win_amd64",
) -> Path:
    """The pressed pyyaml wheel as demo-1.0, with members changed (None: removed)."""
    payload = {
        name: data
        for name, data in members(pyyaml.wheel).items()
        if not name.startswith("pyyaml-5.4.1.dist-info/")
    }
    for name, data in (changes or {}).items():
        if data is None:
            del payload[name]
        else:
            payload[name] = data
    wheel = f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n".encode()
    return write_wheel(tmp_path / f"demo-1.0-{tag}.whl", payload, dist_info={"WHEEL": wheel})


def findings(wheel: Path) -> list[tuple[str, str, str]]:
    _, out, _ = run("audit", "--json", wheel)
    [report] = json.loads(out)["wheels"]
    return [(f["level"], f["code"], f["message"]) for f in report["findings"]]


@pytest.fixture
def yaml_dll(pyyaml: Pressed) -> str:
    return mangled(pyyaml.wheel, "yaml.dll")


def test_audit_finds_a_package_that_does_not_add_the_dll_folder(
    pyyaml: Pressed, tmp_path: Path, yaml_dll: str
) -> None:
    init = members(pyyaml.wheel)["yaml/__init__.py"].replace(HOOK_LINE.encode(), b"")
    assert findings(rebuilt(pyyaml, tmp_path, {"yaml/__init__.py": init})) == [
        (
            "error",
            "dll-unreachable",
            (
                f"{PYD} needs {yaml_dll}, which the wheel has at pyyaml.libs/{yaml_dll}, but "
                f"Windows does not search there: neither is it beside {PYD}, nor does the "
                "__init__.py of yaml add its folder with os.add_dll_directory"
            ),
        )
    ]


def test_audit_accepts_delvewheels_preamble(pyyaml: Pressed, tmp_path: Path) -> None:
    # delvewheel's template (_patch_py_template_v2), written into __init__.py itself.
    patch = (
        b"def _delvewheel_patch_1_13_2():\n"
        b"    import os\n"
        b"    if os.path.isdir(libs_dir := os.path.abspath(os.path.join(os.path.dirname(__file__),"
        b" os.pardir, 'pyyaml.libs'))):\n"
        b"        os.add_dll_directory(libs_dir)\n\n\n"
        b"_delvewheel_patch_1_13_2()\ndel _delvewheel_patch_1_13_2\n"
    )
    init = members(pyyaml.wheel)["yaml/__init__.py"].replace(HOOK_LINE.encode(), patch)
    changes = {"yaml/__init__.py": init, "yaml/_condapress_env.py": None}
    assert findings(rebuilt(pyyaml, tmp_path, changes)) == []


def test_audit_warns_of_a_bundled_dll_under_its_own_name(
    pyyaml: Pressed, tmp_path: Path, yaml_dll: str
) -> None:
    files = members(pyyaml.wheel)
    pyd = rename_imports(files[PYD], {yaml_dll.lower(): "yaml.dll"})
    dll = files[f"pyyaml.libs/{yaml_dll}"]
    changes = {PYD: pyd, f"pyyaml.libs/{yaml_dll}": None, "pyyaml.libs/yaml.dll": dll}
    wheel = rebuilt(pyyaml, tmp_path, changes)
    assert findings(wheel) == [
        (
            "warning",
            "dll-not-mangled",
            (
                f"{PYD} imports yaml.dll, which the wheel bundles at pyyaml.libs/yaml.dll under "
                "its own name: in a process that loaded another yaml.dll first (another wheel's, "
                "or the system's), Windows gives it that one"
            ),
        )
    ]


def test_audit_finds_a_missing_dll_and_the_msvc_runtime(
    pyyaml: Pressed, tmp_path: Path, yaml_dll: str
) -> None:
    pyd = rename_imports(members(pyyaml.wheel)[PYD], {"vcruntime140.dll": "MSVCP140.dll"})
    wheel = rebuilt(pyyaml, tmp_path, {PYD: pyd, f"pyyaml.libs/{yaml_dll}": None})
    assert findings(wheel) == [
        (
            "error",
            "dll-missing",
            f"{PYD} needs {yaml_dll.lower()}, which is neither in the wheel nor a DLL of Windows",
        ),
        (
            "info",
            "msvc-runtime",
            (
                f"{PYD} needs msvcp140.dll, of the Microsoft Visual C++ runtime, which CPython "
                "does not ship: Windows has it once the Visual C++ Redistributable (or a program "
                "that bundles it) is installed"
            ),
        ),
    ]


def test_audit_judges_the_tags_a_windows_wheel_claims(pyyaml: Pressed, tmp_path: Path) -> None:
    assert findings(rebuilt(pyyaml, tmp_path, tag="cp39-cp39-win32")) == [
        ("error", "wrong-architecture", "claims win32 but its binaries are built for amd64")
    ]
    linux = rebuilt(pyyaml, tmp_path, tag="cp39-cp39-manylinux_2_17_x86_64")
    assert findings(linux) == [
        (
            "error",
            "overclaimed-tag",
            "claims manylinux_2_17_x86_64 but its binaries need win_amd64",
        )
    ]


def test_windows_programs_in_a_pure_wheel_are_data(
    zstandard_wheel: Pressed, tmp_path: Path
) -> None:
    # setuptools and pip carry Windows launcher templates (cli-64.exe, t64.exe) in pure wheels.
    exe = members(zstandard_wheel.wheel)["zstandard.libs/zstd.exe"]
    wheel = write_wheel(tmp_path / "demo-1.0-py3-none-any.whl", {"demo/cli-64.exe": exe})
    status, out, _ = run("audit", wheel)
    assert status == 0
    assert "binaries allow: any (no binary files)\n" in out


def test_a_pe_file_beyond_what_the_audit_reads_is_refused_unread(
    pyyaml: Pressed, tmp_path: Path
) -> None:
    pyd = members(pyyaml.wheel)[PYD]
    big = Inflating(pyd, MAX_PE_FILE)  # a real module, then zeros: deflated, never held
    noise = random.Random(13).randbytes(400 * 1024)  # noqa: S311 - keeps the ratio real
    wheel = write_wheel(
        tmp_path / "demo-1.0-cp39-cp39-win_amd64.whl",
        {"demo/__init__.py": b"", "demo/big.dll": big, "demo/noise.bin": noise},
        dist_info={
            "WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp39-cp39-win_amd64\n"
        },
    )
    assert findings(wheel) == [
        (
            "error",
            "file-too-large",
            (
                f"demo/big.dll is a PE file of {big.size:,} bytes, more than the "
                f"{MAX_PE_FILE:,} condapress reads"
            ),
        )
    ]


def test_a_dll_no_package_provides_is_refused_naming_windows(
    tmp_path: Path, pyyaml: Pressed
) -> None:
    pyd = rename_imports(
        members(pyyaml.wheel)[PYD],
        {mangled(pyyaml.wheel, "yaml.dll"): "nothere.dll"},
    )
    package = Package(
        payload=[M("Lib/site-packages/demo/_ext.cp39-win_amd64.pyd", pyd)],
        index=index(subdir="win-64", depends=[]),
    )
    archive = package.conda(tmp_path)
    status, _, err = run(
        archive,
        "--subdir",
        "win-64",
        "--python",
        "3.9",
        "-o",
        tmp_path / "out",
        "--cache-dir",
        tmp_path / "cache",
        "-q",
    )
    assert status != 0
    assert err.splitlines()[0] == (
        "error: demo-1.0-h0_0.conda: Lib/site-packages/demo/_ext.cp39-win_amd64.pyd needs "
        "nothere.dll, which no package of the closure provides and Windows does not have"
    )
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# --- the Windows loader itself, under wine (optional: wine and mingw-w64 are large)

LOADER_C = r"""
#include <windows.h>
#include <stdio.h>
/* What CPython (3.8 and later) does with an extension module once os.add_dll_directory(folder)
   ran: LoadLibraryExW with LOAD_LIBRARY_SEARCH_DEFAULT_DIRS | LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR. */
int wmain(int argc, wchar_t **argv) {
    if (argc < 4) return 2;
    if (wcscmp(argv[2], L"-") != 0 && !AddDllDirectory(argv[2])) return 3;
    HMODULE module = LoadLibraryExW(argv[1], NULL,
        LOAD_LIBRARY_SEARCH_DEFAULT_DIRS | LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR);
    if (!module) { printf("error %lu\n", GetLastError()); return 1; }
    char name[256];
    WideCharToMultiByte(CP_ACP, 0, argv[3], -1, name, sizeof name, NULL, NULL);
    printf("loaded; %s %s\n", name, GetProcAddress(module, name) ? "found" : "missing");
    return 0;
}
"""


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    wine_program = shutil.which("wine64") or shutil.which("wine")
    gcc = shutil.which("x86_64-w64-mingw32-gcc")
    if wine_program is None or gcc is None:
        pytest.skip(
            "wine and mingw-w64 are not installed (apt-get install wine64 gcc-mingw-w64-x86-64)"
        )
    prefix = tmp_path_factory.mktemp("wineprefix")
    return {"wine": wine_program, "gcc": gcc, "WINEPREFIX": str(prefix)}


def wine_run(tools: dict[str, str], *argv: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WINEPREFIX": tools["WINEPREFIX"], "WINEDEBUG": "-all"}
    return subprocess.run(
        [tools["wine"], *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def windows_path(path: Path) -> str:
    return "Z:" + str(path.resolve()).replace("/", "\\")


def test_windows_loads_the_extension_module_from_the_folder_the_hook_adds(
    wine: dict[str, str], pyyaml: Pressed, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(pyyaml.wheel) as zf:
        zf.extractall(site)
    # A stand-in for python39.dll (none can be had here): it exports what the module imports.
    pe = pefile.PE(str(site / PYD))
    names = [
        i.name.decode()
        for e in pe.DIRECTORY_ENTRY_IMPORT
        if e.dll.decode().lower() == "python39.dll"
        for i in e.imports
        if i.name
    ]
    build = tmp_path / "build"
    build.mkdir()
    (build / "stub.def").write_text(
        "LIBRARY python39.dll\nEXPORTS\n"
        + "".join(f"  {n}=stub_{k}\n" for k, n in enumerate(names))
    )
    (build / "stub.c").write_text("".join(f"void stub_{k}(void) {{}}\n" for k in range(len(names))))
    (build / "loader.c").write_text(LOADER_C)
    subprocess.run(
        [
            wine["gcc"],
            "-shared",
            "-o",
            build / "python39.dll",
            build / "stub.c",
            build / "stub.def",
        ],
        check=True,
    )
    subprocess.run(
        [wine["gcc"], "-municode", "-o", build / "loader.exe", build / "loader.c"], check=True
    )
    libs = site / "pyyaml.libs"
    loaded = wine_run(
        wine, build / "loader.exe", windows_path(site / PYD), windows_path(libs), "PyInit__yaml"
    )
    assert loaded.stdout.strip() == "loaded; PyInit__yaml found", loaded.stdout + loaded.stderr
    # Without the folder the hook adds, Windows does not find the DLL: ERROR_MOD_NOT_FOUND.
    missing = wine_run(wine, build / "loader.exe", windows_path(site / PYD), "-", "PyInit__yaml")
    assert missing.stdout.strip() == "error 126"


def test_windows_runs_the_programs_beside_their_mangled_dlls(
    wine: dict[str, str], zstandard_wheel: Pressed, tmp_path: Path
) -> None:
    with zipfile.ZipFile(zstandard_wheel.wheel) as zf:
        zf.extractall(tmp_path)
    zstd = wine_run(wine, tmp_path / "zstandard.libs" / "zstd.exe", "--version")
    assert re.match(r"\*\*\* Zstandard CLI \(64-bit\) v1\.5\.6", zstd.stdout), (
        zstd.stdout + zstd.stderr
    )
    xz = wine_run(wine, tmp_path / "zstandard.libs" / "xz.exe", "--version")
    assert xz.stdout.startswith("xz (XZ Utils) 5.4.6\n"), xz.stdout + xz.stderr
