"""Split wheels promise no more than the wheels they load libraries from."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from typing import TYPE_CHECKING

import pytest

from condapress._cli import main
from condapress.audit import audit_text, audit_wheel
from support import FIXTURE_CHANNEL
from support.venvs import make_venv

if TYPE_CHECKING:
    from pathlib import Path


def press(channel: Path, out: Path, python: str, *argv: str) -> list[str]:
    """Press *argv* (split) into *out*; the wheels' file names, sorted."""
    args = [*argv, "-c", str(channel), "--python", python, "-o", str(out)]
    args += ["--cache-dir", str(out.parent / "cache")]
    with redirect_stdout(io.StringIO()):
        assert main(args) == 0
    return sorted(wheel.name for wheel in out.glob("*.whl"))


@pytest.mark.realworld
def test_split_cffi_is_tagged_like_the_libffi_it_requires(realworld: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    names = press(realworld / "cf2024", out, "3.10", "cffi", "pycparser")
    # cffi's own binaries allow manylinux_2_5, but libffi-conda's need manylinux_2_12
    assert names == [
        "cffi-1.16.0-cp310-cp310-manylinux_2_12_x86_64.manylinux2010_x86_64.whl",
        "libffi_conda-3.4.2-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.whl",
        "pycparser-2.22-py3-none-any.whl",
    ]
    report = audit_wheel(out / names[0])
    assert report.ok
    assert report.verdict.tag == "manylinux_2_5_x86_64"
    assert (
        "info: claims manylinux2010_x86_64, manylinux_2_12_x86_64, less than its own binaries "
        "allow (manylinux_2_5_x86_64): it loads libffi-156480f1.so.8 from the wheels it requires "
        "(libffi-conda==3.4.2, pycparser==2.22), whose tags bound its own\n"
        "  hint: nothing to do if those wheels are tagged so: a wheel installs only where they "
        "install\n"
    ) in audit_text(report)

    venv = make_venv("3.10", tmp_path / "venv")
    venv.pip("install", "--no-index", "--find-links", out, "cffi")
    assert venv.pip("check").stdout == "No broken requirements found.\n"
    code = (
        "import cffi; ffi = cffi.FFI(); ffi.cdef('int abs(int);'); print(ffi.dlopen(None).abs(-7))"
    )
    assert venv.run(venv.python, "-c", code).stdout == "7\n"


@pytest.mark.realworld
def test_a_platform_request_beyond_a_required_wheel_is_refused(
    realworld: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["cffi", "-c", str(realworld / "cf2024"), "--python", "3.10"]
    argv += ["-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    assert main([*argv, "--plat", "manylinux_2_5_x86_64", "-q"]) == 1
    assert capsys.readouterr().err == (
        "error: the binaries cannot be tagged manylinux_2_5_x86_64: requires libffi-conda, which "
        "is tagged manylinux_2_12_x86_64 (libffi_conda.libs/libffi-156480f1.so.8 needs GLIBC_2.7 "
        "(from libc.so.6))\n"
        "hint: the most compatible tag they allow is manylinux_2_12_x86_64; ask for that with "
        "--plat, or pass --runtime bundle\n"
    )
    assert not (tmp_path / "out").exists()


def test_split_pygreet_is_tagged_like_its_cxx_library(tmp_path: Path) -> None:
    names = press(FIXTURE_CHANNEL, tmp_path / "out", "3.11", "pygreet", "salutation-python")
    # pygreet's own binaries allow manylinux_2_24; libgreetpp-conda needs GLIBCXX_3.4.29
    assert names == [
        "libgreet_conda-1.0.0-py3-none-manylinux_2_34_x86_64.whl",
        "libgreetpp_conda-1.0.0-py3-none-manylinux_2_34_x86_64.whl",
        "pygreet-1.0.0-cp311-cp311-manylinux_2_34_x86_64.whl",
        "salutation-1.2.0-py3-none-any.whl",
    ]
    report = audit_wheel(tmp_path / "out" / names[2])
    assert report.verdict.tag == "manylinux_2_24_x86_64"
    assert [f.code for f in report.findings if f.code.startswith(("tag-", "underclaimed"))] == [
        "tag-from-required-wheels"
    ]
