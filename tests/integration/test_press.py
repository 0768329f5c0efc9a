"""Press the fixture channel, install the wheels with real pip into fresh venvs, and run them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from condapress._cli import main
from support import FIXTURE_CHANNEL
from support.venvs import Venv, cpython, make_venv

PLACEHOLDER = b"_h_env_placehold_placehold"
GREETING = "Hello, {name}! (from share/libgreet/greeting.txt of libgreet {version})"


@dataclass(frozen=True)
class Pressed:
    python: str
    fat: bool
    wheelhouse: Path
    lines: list[str]
    venv: Venv
    #: pyshout (libgreet 2) cannot share an environment with pygreet (libgreet 1) in split
    #: mode, where both majors would be the distribution libgreet-conda: it gets its own.
    shout_wheelhouse: Path
    shout_venv: Venv

    @property
    def wheelhouses(self) -> tuple[Path, Path]:
        return (self.wheelhouse, self.shout_wheelhouse)


def press(out: Path, cache: Path, *argv: str) -> list[str]:
    import io
    from contextlib import redirect_stdout

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        status = main(
            ["-c", str(FIXTURE_CHANNEL), "--cache-dir", str(cache), "-o", str(out), *argv]
        )
    assert status == 0, buffer.getvalue()
    return buffer.getvalue().splitlines()


@pytest.fixture(scope="module", params=["3.10", "3.11", "3.12"])
def python(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", params=[True, False], ids=["fat", "split"])
def pressed(
    python: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Pressed:
    fat = bool(request.param)
    tmp = tmp_path_factory.mktemp(f"press-{python}-{'fat' if fat else 'split'}")
    flags = ["--fat"] if fat else []
    lines = press(
        tmp / "wheelhouse",
        tmp / "cache",
        "pygreet",
        "salutation-python",
        "tally",
        "--python",
        python,
        *flags,
    )
    venv = make_venv(python, tmp / "venv")
    venv.pip("install", "--no-index", "--find-links", tmp / "wheelhouse", "pygreet", "tally-conda")
    press(tmp / "shout", tmp / "cache", "pyshout", "--python", python, *flags)
    shout_venv = make_venv(python, tmp / "venv-shout")
    shout_venv.pip("install", "--no-index", "--find-links", tmp / "shout", "pyshout")
    return Pressed(python, fat, tmp / "wheelhouse", lines, venv, tmp / "shout", shout_venv)


def test_one_line_per_wheel(pressed: Pressed) -> None:
    wheels = sorted(p.name for p in pressed.wheelhouse.iterdir())
    assert len(pressed.lines) == len(wheels)
    tag = pressed.python.replace(".", "")
    expected = {
        f"pygreet-1.0.0-cp{tag}-cp{tag}-",
        "salutation-1.2.0-py3-none-any.whl",
        "tally_conda-0.3.0-py3-none-",
    }
    if not pressed.fat:
        expected |= {"libgreet_conda-1.0.0-py3-none-", "libgreetpp_conda-1.0.0-py3-none-"}
    assert {next(e for e in expected if w.startswith(e)) for w in wheels} == expected
    for line in pressed.lines:
        assert re.fullmatch(r"\S+\.whl  \S+  \d+ KiB  [\w.+ -]+", line), line


def test_extension_calls_into_cpp_and_c_libraries(pressed: Pressed) -> None:
    code = (
        "import pygreet; print(pygreet.greet('Ada')); print(pygreet.libgreet_version()); "
        "print(pygreet.salute('Ada'))"
    )
    out = pressed.venv.run(pressed.venv.python, "-c", code).stdout.splitlines()
    assert out == [GREETING.format(name="Ada", version="1.0.0"), "1", out[2]]
    assert "Ada" in out[2]


def test_libgreet_2_extension(pressed: Pressed) -> None:
    venv = pressed.shout_venv
    code = "import pyshout; print(pyshout.libgreet_version()); print(pyshout.shout('Ada'))"
    assert venv.run(venv.python, "-c", code).stdout.splitlines() == [
        "2",
        GREETING.format(name="Ada", version="2.0.0").upper(),
    ]
    greet = venv.run(venv.path / "bin" / "greet", "Bob").stdout
    assert greet == GREETING.format(name="Bob", version="2.0.0") + "\n"


def test_console_script_and_executables(pressed: Pressed) -> None:
    bin_dir = pressed.venv.path / "bin"
    assert pressed.venv.run(bin_dir / "salute", "Ada").stdout == "Greetings, Ada.\n"
    assert (
        pressed.venv.run(bin_dir / "greet", "Bob").stdout
        == GREETING.format(name="Bob", version="1.0.0") + "\n"
    )
    assert pressed.venv.run(bin_dir / "tally", "ab", "cde").stdout == "5\n"


def test_pip_check_is_clean(pressed: Pressed) -> None:
    for venv in (pressed.venv, pressed.shout_venv):
        assert venv.pip("check").stdout == "No broken requirements found.\n"


def test_twine_check_passes(pressed: Pressed) -> None:
    wheels = sorted(w for house in pressed.wheelhouses for w in house.iterdir())
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, wheels)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == len(wheels)


def test_no_absolute_rpath_or_placeholder(pressed: Pressed, tmp_path: Path) -> None:
    for wheel in (w for house in pressed.wheelhouses for w in house.iterdir()):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                data = archive.read(name)
                assert PLACEHOLDER not in data, f"{wheel.name}: {name}"
                if data[:4] != b"\x7fELF":
                    continue
                target = tmp_path / "elf"
                target.write_bytes(data)
                dynamic = subprocess.run(
                    ["readelf", "-d", "-W", str(target)], capture_output=True, text=True, check=True
                ).stdout
                for paths in re.findall(r"\((?:RPATH|RUNPATH)\).*\[(.*)\]", dynamic):
                    for entry in paths.split(":"):
                        assert entry.startswith("$ORIGIN"), f"{wheel.name}: {name}: {entry}"


def _sibling_sonames(wheelhouse: Path, wheel: Path) -> list[str]:
    """Sonames that *wheel* links but another wheel of the same press ships."""
    names: list[str] = []
    for other in wheelhouse.glob("*.whl"):
        if other != wheel:
            with zipfile.ZipFile(other) as archive:
                names += [Path(n).name for n in archive.namelist() if ".libs/lib" in n]
    return names


def test_auditwheel_agrees_with_our_tag(pressed: Pressed, tmp_path: Path) -> None:
    auditwheel = Path(sys.executable).parent / "auditwheel"
    for wheel in (w for house in pressed.wheelhouses for w in house.glob("*manylinux*.whl")):
        ours = re.search(r"-(manylinux_\d+_\d+_x86_64)", wheel.name)
        assert ours is not None
        siblings = _sibling_sonames(wheel.parent, wheel)
        shown = subprocess.run(
            [str(auditwheel), "show", str(wheel)], capture_output=True, text=True, check=False
        )
        text = " ".join(shown.stdout.split())
        if f'consistent with the following platform tag: "{ours.group(1)}"' in text:
            continue
        # A split wheel links libraries that its Requires-Dist wheels ship; auditwheel show
        # cannot see them, so ask auditwheel repair, told that those sonames come from
        # elsewhere (its --exclude), which tag the binaries honour.
        assert not pressed.fat, text
        excludes = [arg for soname in siblings for arg in ("--exclude", soname)]
        env = {**os.environ, "PATH": f"{auditwheel.parent}{os.pathsep}{os.environ['PATH']}"}
        repaired = subprocess.run(
            [str(auditwheel), "repair", *excludes, "-w", str(tmp_path), str(wheel)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        assert repaired.returncode == 0, repaired.stderr
        (out,) = tmp_path.glob("*.whl")
        # (repair keeps the tag the wheel had and adds those the binaries honour beyond it)
        own = min(re.findall(r"manylinux_\d+_\d+_x86_64", out.name), key=_glibc)
        # ... and it promises no more than the wheels it requires: the least compatible wins
        bounds = [own, *_required_platforms(wheel)]
        assert ours.group(1) == max(bounds, key=_glibc), (out.name, bounds)
        out.unlink()


def _glibc(platform: str) -> tuple[int, int]:
    """``manylinux_2_17_x86_64`` -> (2, 17)."""
    major, minor = platform.split("_")[1:3]
    return int(major), int(minor)


def _required_platforms(wheel: Path) -> list[str]:
    """The manylinux platforms of the wheels beside *wheel* that it requires, transitively."""
    beside = {w.name.split("-")[0]: w for w in wheel.parent.glob("*.whl")}
    found: list[str] = []
    todo, seen = [wheel], {wheel}
    while todo:
        with zipfile.ZipFile(todo.pop()) as archive:
            (metadata,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            text = archive.read(metadata).decode()
        for line in re.findall(r"^Requires-Dist: ([\w.-]+)", text, flags=re.MULTILINE):
            other = beside.get(re.sub(r"[-_.]+", "_", line).lower())
            if other is not None and other not in seen:
                seen.add(other)
                todo.append(other)
                found += re.findall(r"-(manylinux_\d+_\d+_x86_64)", other.name)
    return found


def test_local_archive_spec_presses_the_same_binaries(tmp_path: Path) -> None:
    archive = next((FIXTURE_CHANNEL / "linux-64").glob("pygreet-1.0.0-py311*.conda"))
    local = tmp_path / "feedstock" / archive.name
    local.parent.mkdir()
    local.write_bytes(archive.read_bytes())
    by_path = press(tmp_path / "a", tmp_path / "cache", str(local), "--python", "3.11", "--fat")
    by_name = press(tmp_path / "b", tmp_path / "cache", "pygreet", "--python", "3.11", "--fat")
    assert [line.split()[2:] for line in by_path] == [line.split()[2:] for line in by_name]
    (wheel_a,) = (tmp_path / "a").glob("*.whl")
    (wheel_b,) = (tmp_path / "b").glob("*.whl")
    with zipfile.ZipFile(wheel_a) as a, zipfile.ZipFile(wheel_b) as b:
        assert a.namelist() == b.namelist()
        payload = [n for n in a.namelist() if ".dist-info/" not in n]
        assert [a.read(n) for n in payload] == [b.read(n) for n in payload]
        # only the provenance says where the package came from: a file, in no channel
        provenance = "pygreet-1.0.0.dist-info/conda-packages.json"
        by_file = json.loads(a.read(provenance))["packages"]
        by_channel = json.loads(b.read(provenance))["packages"]
        assert [(p["name"], p["channel"], p["url"]) for p in by_file] == [
            ("libgreet", "channels_fixture", "linux-64/libgreet-1.0.0-hd590300_0.tar.bz2"),
            ("libgreetpp", "channels_fixture", "linux-64/libgreetpp-1.0.0-h6712182_0.conda"),
            ("pygreet", "", archive.name),
        ]
        assert by_channel[:2] == by_file[:2]
        assert (by_channel[2]["channel"], by_channel[2]["url"]) == (
            "channels_fixture",
            f"linux-64/{archive.name}",
        )
        assert str(tmp_path) not in a.read(provenance).decode()


def test_pressing_twice_gives_identical_bytes_whatever_the_jobs(tmp_path: Path) -> None:
    specs = ("pygreet", "tally", "--python", "3.12")
    first = press(tmp_path / "one", tmp_path / "cache", *specs, "--jobs", "1")
    second = press(tmp_path / "two", tmp_path / "cache", *specs, "--jobs", "3")
    assert len(first) == len(second) == 4
    for wheel in (tmp_path / "one").iterdir():
        assert wheel.read_bytes() == (tmp_path / "two" / wheel.name).read_bytes(), wheel.name


def test_a_package_extracted_alone_gives_identical_bytes_whatever_the_jobs(
    realworld: Path, tmp_path: Path
) -> None:
    # ncurses alone: its 3,000 terminfo files and links are written on --jobs threads
    specs = ("ncurses", "-c", str(realworld / "cf2024"), "--python", "3.10", "--fat")
    first = press(tmp_path / "one", tmp_path / "cache", *specs, "--jobs", "1")
    second = press(tmp_path / "two", tmp_path / "cache", *specs, "--jobs", "3")
    assert len(first) == len(second) == 1
    (wheel,) = (tmp_path / "one").iterdir()
    assert wheel.read_bytes() == (tmp_path / "two" / wheel.name).read_bytes()
    with zipfile.ZipFile(wheel) as archive:
        assert sum(name.count("/terminfo/") for name in archive.namelist()) > 2000


@pytest.mark.parametrize("order", ["pygreet,pyshout", "pyshout,pygreet"])
def test_two_fat_wheels_with_different_libgreet_majors_in_one_process(
    order: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.getbasetemp() / "two-majors"
    if not (tmp / "venv").exists():
        # pygreet bundles libgreet 1, pyshout libgreet 2: they cannot share a conda environment
        for spec in ("pygreet", "pyshout", "salutation-python"):
            press(tmp / "wheelhouse", tmp / "cache", spec, "--python", "3.11", "--fat")
        venv = make_venv("3.11", tmp / "venv")
        venv.pip("install", "--no-index", "--find-links", tmp / "wheelhouse", "pygreet", "pyshout")
    venv = Venv(tmp / "venv")
    first, second = order.split(",")
    code = (
        f"import {first}, {second}; import pygreet, pyshout; "
        "print(pygreet.libgreet_version(), pyshout.libgreet_version()); "
        "print(pygreet.greet('Ada')); print(pyshout.shout('Bob'))"
    )
    assert venv.run(venv.python, "-c", code).stdout.splitlines() == [
        "1 2",
        GREETING.format(name="Ada", version="1.0.0"),
        GREETING.format(name="Bob", version="2.0.0").upper(),
    ]


def _leaky_package(folder: Path) -> Path:
    """A package with a build prefix that paths.json does not declare: relocation leaves it."""
    from support.conda_archives import M, Package, index

    source = b"PREFIX = '/home/conda/feedstock_root/build_artifacts/leaky_1/_h_env_placehold_pl'\n"
    package = Package(
        payload=[M("site-packages/leaky/__init__.py", source)],
        index=index(name="leaky", depends=[], noarch="python", subdir="noarch"),
    )
    folder.mkdir(parents=True, exist_ok=True)
    return package.conda(folder, "leaky-1.0-h0_0.conda")


def test_a_wheel_that_fails_its_audit_is_not_written(tmp_path: Path) -> None:
    archive = _leaky_package(tmp_path / "feedstock")
    argv = [str(archive), "-c", str(FIXTURE_CHANNEL), "--python", "3.11"]
    argv += ["-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    # as a user sees it: the refusal once (no ERROR: log line repeating it), nothing else
    refused = subprocess.run(
        [sys.executable, "-m", "condapress", *argv, "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        "error: leaky-1.0-py3-none-any.whl fails its audit: leaky/__init__.py contains the "
        "build prefix _h_env_placehold\n"
        "hint: press the package with condapress, or rebuild it relocatable; "
        "'condapress audit' explains every finding, --no-audit writes the wheel anyway\n"
    )
    assert not (tmp_path / "out").exists()  # created for this press, removed with its failure
    assert main([*argv, "--no-audit"]) == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["leaky-1.0-py3-none-any.whl"]


def test_plat_the_binaries_cannot_honour(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["pygreet", "-c", str(FIXTURE_CHANNEL), "--python", "3.11", "--fat"]
    argv += ["-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    assert main([*argv, "--plat", "manylinux2014"]) == 1
    assert capsys.readouterr().err.splitlines()[-2:] == [
        (
            "error: the binaries cannot be tagged manylinux2014: pygreet.libs/bin/greet needs "
            "GLIBC_2.34 (from libc.so.6)"
        ),
        (
            "hint: the most compatible tag they allow is manylinux_2_34_x86_64; ask for that with "
            "--plat, or pass --runtime bundle"
        ),
    ]
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    assert main([*argv, "--plat", "manylinux_2_35_x86_64"]) == 0
    (wheel,) = (tmp_path / "out").iterdir()
    assert wheel.name == "pygreet-1.0.0-cp311-cp311-manylinux_2_35_x86_64.whl"


@pytest.mark.parametrize("scheme", ["target", "user"])
def test_launchers_work_for_target_and_user_installs(scheme: str, tmp_path: Path) -> None:
    press(
        tmp_path / "wheelhouse",
        tmp_path / "cache",
        "pygreet",
        "salutation-python",
        "--python",
        "3.11",
        "--fat",
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pip = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check"]
    install = ["install", "--no-index", "--find-links", str(tmp_path / "wheelhouse"), "pygreet"]
    if scheme == "target":
        venv = make_venv("3.11", tmp_path / "venv")
        where = tmp_path / "target"
        subprocess.run(
            [*pip, "--python", str(venv.python), *install, "--target", str(where)],
            check=True,
            capture_output=True,
            env=env,
        )
        env["PYTHONPATH"] = str(where)  # how a --target folder is used
        python = venv.python
    else:
        where = tmp_path / "userbase"
        env["PYTHONUSERBASE"] = str(where)
        python = cpython("3.11")
        subprocess.run(
            [*pip, "--python", str(python), *install, "--user"],
            check=True,
            capture_output=True,
            env=env,
        )
    bin_dir = where / "bin"

    def run(*argv: str | Path) -> str:
        command = [str(a) for a in argv]
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert run(bin_dir / "greet", "Bob") == GREETING.format(name="Bob", version="1.0.0") + "\n"
    assert run(bin_dir / "salute", "Ada") == "Greetings, Ada.\n"
    code = "import pygreet; print(pygreet.greet('Ada'))"
    assert run(python, "-c", code) == GREETING.format(name="Ada", version="1.0.0") + "\n"


def test_every_file_left_out_is_logged_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="condapress.relocate")
    press(tmp_path / "out", tmp_path / "cache", "pygreet", "--python", "3.11", "--fat")
    left = [r.getMessage() for r in caplog.records if " left out: " in r.getMessage()]
    assert "pygreet: include/greet.h of libgreet left out: header (development file)" in left
    assert (
        "pygreet: lib/libgreet.so of libgreet left out: symbolic link (the wheel keeps one file "
        "per library, under its soname)"
    ) in left
