from __future__ import annotations

import pytest

from condapress import __version__
from condapress._cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"condapress {__version__}\n"


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: condapress [-h] [--version] [-v] [-q] COMMAND ...")
    assert "plan         resolve specs and show what each conda package becomes" in out


def test_plan_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    out = capsys.readouterr().out
    for option in ("--channel", "--python", "--subdir", "--fat", "--json", "--graph", "--runtime"):
        assert option in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["plan", "pyyaml", "--python", "3"],
            (
                "error: python version '3' is not of the form X.Y\n"
                "hint: pass the target interpreter as major.minor, e.g. --python 3.11\n"
            ),
        ),
        (
            ["plan", "pyyaml", "--python", "2.7"],
            (
                "error: python 2.7 is not a target: condapress presses wheels for CPython 3\n"
                "hint: pass a CPython 3 version, e.g. --python 3.11\n"
            ),
        ),
        (
            ["plan", "pyyaml", "--python", "3.12.1"],
            (
                "error: python version '3.12.1' is not of the form X.Y\n"
                "hint: pass the target interpreter as major.minor, e.g. --python 3.12\n"
            ),
        ),
        (
            ["plan", "pkgs/pygreet-1.0.0-py311h26e73d1_0.conda"],
            (
                "error: no such file: pkgs/pygreet-1.0.0-py311h26e73d1_0.conda\n"
                "hint: check the path of the archive, or name the package to take it from the "
                "channels: 'pygreet'\n"
            ),
        ),
        (
            ["-v", "press", "-q", "missing.tar.bz2", "-v"],  # -v and -q before and after it
            "error: no such file: missing.tar.bz2\nhint: check the path of the archive\n",
        ),
        (
            ["plan", "pyyaml", "--subdir", "linux-65"],
            (
                "error: unknown subdir 'linux-65'\n"
                "hint: use one of: linux-64, linux-aarch64, linux-ppc64le, linux-s390x, osx-64, "
                "osx-arm64, win-64\n"
            ),
        ),
        (
            ["plan", "pyyaml["],
            (
                "error: invalid match spec 'pyyaml[': invalid package name 'pyyaml[': "
                "'pyyaml[' is not a valid package name. Package names can only contain "
                "0-9, a-z, A-Z, -, _, or .\n"
                "hint: write specs the way conda does, for example 'numpy >=1.26' or "
                "'pyarrow=0.14'\n"
            ),
        ),
    ],
)
def test_bad_input_is_one_error_and_one_hint(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", expected)


@pytest.mark.parametrize("command", ["plan", "press"])
@pytest.mark.parametrize(
    ("value", "problem"),
    [("0", "must be more than 0 seconds, not 0"), ("soon", "not a number of seconds: 'soon'")],
)
def test_timeout_must_be_seconds(
    command: str, value: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "pyyaml", "--timeout", value])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"argument --timeout: {problem}")
