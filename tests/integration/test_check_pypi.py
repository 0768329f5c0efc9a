"""condapress check and the press's PyPI gate, with twine check as the oracle for descriptions."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from typing import TYPE_CHECKING

import pytest

from condapress._cli import main
from support import FIXTURE_CHANNEL

if TYPE_CHECKING:
    from pathlib import Path


def _press(out: Path, cache: Path, *argv: str) -> int:
    return main(["-c", str(FIXTURE_CHANNEL), "--cache-dir", str(cache), "-o", str(out), *argv])


def test_press_refuses_what_pypi_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, cache = tmp_path / "wheelhouse", tmp_path / "cache"
    argv = ["tally", "--python", "3.11", "--plat", "linux_x86_64", "-q"]
    assert _press(out, cache, *argv) == 1
    assert capsys.readouterr().err.splitlines() == [
        (
            "error: PyPI would refuse tally_conda-0.3.0-py3-none-linux_x86_64.whl: the "
            "platform tag linux_x86_64 is not one PyPI takes: it says nothing about the "
            "distributions the wheel runs on"
        ),
        (
            "hint: tag it for a platform PyPI knows (manylinux_X_Y, musllinux_X_Y, macosx, win); a "
            "linux_<arch> wheel belongs on a private index; 'condapress check' explains every "
            "finding, --no-check writes the wheel anyway"
        ),
    ]
    assert not out.exists()
    # --no-check writes it (for a private index); 'condapress check' then says why PyPI won't
    assert _press(out, cache, *argv, "--no-check") == 0
    [wheel] = out.iterdir()
    capsys.readouterr()
    assert main(["check", str(wheel)]) == 1
    assert "error: the platform tag linux_x86_64 is not one PyPI takes" in capsys.readouterr().out


def test_pressed_wheels_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "wheelhouse"
    argv = ["pygreet", "salutation-python", "tally", "--python", "3.12", "--max-file-size", "1"]
    assert _press(out, tmp_path / "cache", *argv) == 0
    wheels = sorted(str(p) for p in out.iterdir())
    capsys.readouterr()
    assert main(["check", "--strict", *wheels]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ", 1)[1] for line in lines if ".whl: " in line] == [
        "PyPI takes it (0 errors, 0 warnings)"
    ] * len(wheels)
    assert len(wheels) == 5  # split: libgreet and libgreetpp are wheels of their own
    assert not any(_twine_strict_fails(out / wheel) for wheel in wheels)
    # a limit the wheels do not fit in refuses the press
    assert _press(tmp_path / "small", tmp_path / "cache", *argv[:-1], "0.002", "-q") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: PyPI would refuse ")
    assert "more than the 2 KiB PyPI takes in one file\n" in err
    assert not (tmp_path / "small").exists()


def _twine_strict_fails(wheel: Path) -> bool:
    argv = [sys.executable, "-m", "twine", "check", "--strict", str(wheel)]
    return subprocess.run(argv, capture_output=True, check=False).returncode != 0


@pytest.mark.parametrize(
    ("metadata", "twine_fails"),
    [
        ("Description-Content-Type: text/markdown\n\n# demo\n\n*fine*\n", False),
        ("Description-Content-Type: text/x-rst\n\nTitle\n=====\n\nfine\n", False),
        ("Description-Content-Type: text/x-rst\n\nTitle\n=====\n\n`broken\n", True),
        ("\nTitle\n=====\n\n`broken\n", True),
        ("\nfine, but of no declared type\n", True),
        ("", True),
    ],
    ids=["markdown", "rst", "broken-rst", "broken-default", "no-type", "no-description"],
)
def test_description_verdicts_agree_with_twine(
    tmp_path: Path, metadata: str, twine_fails: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo/__init__.py", "")
        text = "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n" + metadata
        zf.writestr("demo-1.0.dist-info/METADATA", text)
        zf.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        zf.writestr("demo-1.0.dist-info/RECORD", "")
    assert _twine_strict_fails(wheel) is twine_fails
    assert (main(["check", "--strict", str(wheel)]) == 1) is twine_fails
    capsys.readouterr()
