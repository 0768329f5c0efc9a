"""What pressed wheels say about themselves: Requires-Dist, licenses and provenance.

Pressed from real conda-forge archives (../shared/realworld/cf2024) and the fixture channel.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from condapress._cli import main
from support import FIXTURE_CHANNEL, REALWORLD
from support.venvs import make_venv

CF2024 = REALWORLD / "cf2024"


def press(out: Path, channel: Path, python: str, *argv: str) -> dict[str, Path]:
    """Press *argv* from *channel* into *out*; the wheels by distribution name."""
    args = [*argv, "-c", str(channel), "--python", python, "-o", str(out)]
    args += ["--cache-dir", str(out.parent / "cache")]
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(args) == 0, printed.getvalue()
    return {wheel.name.split("-")[0]: wheel for wheel in out.glob("*.whl")}


def requirement_lines(wheel: Path) -> list[str]:
    """The Requires-Python, Provides-Extra and Requires-Dist lines of *wheel*'s METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        head = archive.read(name).decode().split("\n\n")[0]
    return [line for line in head.splitlines() if line.startswith(("Requires", "Provides"))]


@pytest.fixture(scope="module")
def cf2024(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not REALWORLD.is_dir():
        pytest.skip("../shared/realworld is absent: the conda-forge archive tier needs it")
    out = tmp_path_factory.mktemp("cf2024") / "wheelhouse"
    return press(out, CF2024, "3.10", "click", "ruamel.yaml", "pyyaml", "cffi", "--fat")


@pytest.mark.realworld
@pytest.mark.parametrize(
    ("wheel", "lines"),
    [
        (
            "click",
            [
                "Requires-Python: >=3.7",
                'Requires-Dist: colorama; platform_system == "Windows"',
                'Requires-Dist: importlib-metadata; python_version < "3.8"',
            ],
        ),
        (
            "ruamel_yaml",
            [
                "Requires-Python: >=3.7",
                "Provides-Extra: docs",
                "Provides-Extra: jinja2",
                'Requires-Dist: mercurial>5.7; extra == "docs"',
                (
                    "Requires-Dist: ruamel.yaml.clib>=0.2.7; "
                    'platform_python_implementation == "CPython" and python_version < "3.13"'
                ),
                'Requires-Dist: ruamel.yaml.jinja2>=0.2; extra == "jinja2"',
                'Requires-Dist: ryd; extra == "docs"',
            ],
        ),
        ("pyyaml", ["Requires-Python: >=3.6"]),
        ("cffi", ["Requires-Python: >=3.8", "Requires-Dist: pycparser"]),
    ],
)
def test_requires_dist_keeps_the_packages_own_markers_and_extras(
    cf2024: dict[str, Path], wheel: str, lines: list[str]
) -> None:
    assert requirement_lines(cf2024[wheel]) == lines


@pytest.mark.realworld
def test_click_installs_and_checks_with_real_pip(cf2024: dict[str, Path], tmp_path: Path) -> None:
    venv = make_venv("3.10", tmp_path / "venv")
    venv.pip("install", "--no-index", cf2024["click"])
    assert venv.pip("check").stdout == "No broken requirements found.\n"
    code = "import click; print(click.style('ok', fg='green') == '\\x1b[32mok\\x1b[0m')"
    assert venv.run(venv.python, "-c", code).stdout == "True\n"


@pytest.mark.parametrize(
    ("argv", "lines"),
    [
        (
            ("pygreet", "salutation-python"),
            [
                "Requires-Python: >=3.10",
                "Requires-Dist: libgreetpp-conda==1.0.0",
                "Requires-Dist: salutation==1.2.0",
            ],
        ),
        (("pygreet", "--fat"), ["Requires-Python: >=3.10", "Requires-Dist: salutation>=1.2"]),
    ],
)
def test_fixture_requires_dist(argv: tuple[str, ...], lines: list[str], tmp_path: Path) -> None:
    wheels = press(tmp_path / "out", FIXTURE_CHANNEL, "3.11", *argv)
    assert requirement_lines(wheels["pygreet"]) == lines


def dist_info(wheel: Path) -> dict[str, bytes]:
    """The files of *wheel*'s .dist-info, by their path inside it."""
    with zipfile.ZipFile(wheel) as archive:
        return {
            name.split(".dist-info/", 1)[1]: archive.read(name)
            for name in archive.namelist()
            if ".dist-info/" in name
        }


@pytest.mark.realworld
def test_bundle_counts_only_the_runtime_files_that_were_grafted(
    realworld: Path, tmp_path: Path
) -> None:
    # cffi's binaries need nothing of conda-forge's GCC runtime: none of it is grafted, so none
    # of its licenses, License-Expression or provenance belongs in the wheel
    channel = realworld / "cf2024"
    wheels = press(tmp_path / "out", channel, "3.10", "cffi", "--fat", "--runtime", "bundle")
    files = dist_info(wheels["cffi"])
    head = files["METADATA"].decode().split("\n\n")[0].splitlines()
    assert [line for line in head if line.startswith("License")] == [
        "License-Expression: MIT",
        "License-File: cffi/LICENSE",
        "License-File: libffi/LICENSE",
    ]
    assert sorted(name for name in files if name.startswith("licenses/")) == [
        "licenses/cffi/LICENSE",
        "licenses/libffi/LICENSE",
    ]
    packages = json.loads(files["conda-packages.json"])["packages"]
    assert [p["name"] for p in packages] == ["cffi", "libffi"]
    with zipfile.ZipFile(wheels["cffi"]) as archive:
        libs = [n for n in archive.namelist() if n.startswith("cffi.libs/")]
    assert [lib.split("-")[0] for lib in libs] == ["cffi.libs/libffi"]


@pytest.mark.realworld
def test_split_bundle_makes_no_wheel_of_the_runtime_alone(
    realworld: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing of cffi or libffi links the GCC runtime: it is grafted into no wheel, and no wheel
    # of its own (a wheel of nothing that every other wheel would pin) is made.
    out = tmp_path / "out"
    args = ["cffi", "--runtime", "bundle", "-c", str(realworld / "cf2024"), "--python", "3.10"]
    assert main([*args, "-o", str(out), "--cache-dir", str(tmp_path / "cache")]) == 0
    lines = [line.split("  ") for line in capsys.readouterr().out.splitlines()]
    assert [(Path(where).name, members) for where, _, _, members in lines] == [
        ("cffi-1.16.0-cp310-cp310-manylinux_2_12_x86_64.manylinux2010_x86_64.whl", "cffi"),
        (
            "libffi_conda-3.4.2-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.whl",
            "libffi",
        ),
    ]
    assert sorted(w.name for w in out.iterdir()) == sorted(Path(line[0]).name for line in lines)
    assert "Requires-Dist: libffi-conda==3.4.2" in requirement_lines(Path(lines[0][0]))


def test_the_same_channel_from_any_folder_gives_the_same_bytes(tmp_path: Path) -> None:
    pressed = []
    for where in ("one", "elsewhere/two"):
        copy = tmp_path / where / "fixture"
        shutil.copytree(FIXTURE_CHANNEL, copy, ignore=shutil.ignore_patterns("recipes"))
        pressed.append(
            press(tmp_path / where / "out", copy, "3.11", "pygreet", "salutation-python")
        )
    first, second = (
        {name: hashlib.sha256(w.read_bytes()).hexdigest() for name, w in wheels.items()}
        for wheels in pressed
    )
    assert len(first) == 4
    assert first == second
    provenance = json.loads(dist_info(pressed[0]["pygreet"])["conda-packages.json"])["packages"]
    assert [(p["channel"], p["url"]) for p in provenance] == [
        ("fixture", "linux-64/pygreet-1.0.0-py311h26e73d1_0.conda")
    ]
