"""The configuration file: which one is read, every key as its option, the command line first,
and one error naming the file, the keys and what each expects."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from condapress._cli import _build_parser, _config, main

if TYPE_CHECKING:
    import argparse

FULL = """\
[tool.condapress]
specs = ["pygreet", "salutation-python"]
channels = ["channels_fixture", "conda-forge"]
python = ["3.11", "3.12"]
subdir = "linux-aarch64"
glibc = "2.28"
macos = "12.0"
cache-dir = "cache"
timeout = 30
fat = true
runtime = "bundle"
exclude = ["libcuda.so.*"]
rename = {salutation-python = "salutation"}
add-requires = ["numpy>=1.26"]
strip = true

[tool.condapress.press]
output-dir = "dist"
compression-level = 9
jobs = 2
plat = "manylinux_2_28_aarch64"
audit = false
check = false
max-file-size = 200
smoke = "import pygreet"
smoke-python = "/usr/bin/python3.11"
allow-overlap = true
json = true

[tool.condapress.plan]
python = "3.11"
graph = "plan.dot"

[tool.condapress.index]
output-dir = "index"
"""


def parsed(argv: list[str]) -> argparse.Namespace:
    args = _build_parser(None).parse_args(argv)
    _config.apply_config(args)
    return args


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    return status, err.getvalue()


def test_every_option_of_press_from_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(FULL)
    args = parsed(["press"])
    given = {k: v for k, v in vars(args).items() if not k.startswith(("config", "execute"))}
    assert given == {
        "specs": ["pygreet", "salutation-python"],
        "channels": ["channels_fixture", "conda-forge"],
        "python": ["3.11", "3.12"],
        "subdir": "linux-aarch64",
        "glibc": "2.28",
        "macos": "12.0",
        "cache_dir": Path("cache"),
        "timeout": 30.0,
        "fat": True,
        "runtime": "bundle",
        "exclude": ["libcuda.so.*"],
        "rename": [("salutation-python", "salutation")],
        "add_requires": ["numpy>=1.26"],
        "strip": True,
        "output_dir": Path("dist"),
        "compression_level": 9,
        "jobs": 2,
        "plat": "manylinux_2_28_aarch64",
        "audit": False,
        "check": False,
        "max_file_size": 200 << 20,
        "smoke": "import pygreet",
        "smoke_python": Path("/usr/bin/python3.11"),
        "allow_overlap": True,
        "json": True,
        "verbose": 0,
        "quiet": 0,
        "verbose_after": 0,
        "quiet_after": 0,
    }
    plan = parsed(["plan"])
    assert (plan.python, plan.graph, plan.fat) == ("3.11", Path("plan.dot"), True)
    assert parsed(["index"]).output_dir == Path("index")


def test_the_command_line_wins_and_replaces_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(FULL)
    args = parsed(["press", "pyshout", "-c", "here", "--python", "3.10", "-j", "4", "-o", "x"])
    assert (args.specs, args.channels, args.python, args.jobs, args.output_dir) == (
        ["pyshout"],
        ["here"],
        ["3.10"],
        4,
        Path("x"),
    )
    assert args.exclude == ["libcuda.so.*"]  # not given: the file's


def test_which_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parsed(["press", "x"]).fat is False  # no file: the defaults
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert parsed(["press", "x"]).fat is False  # no [tool.condapress]
    (tmp_path / "pyproject.toml").write_text("[tool.condapress]\nfat = true\n")
    assert parsed(["press", "x"]).fat is True
    (tmp_path / "condapress.toml").write_text('runtime = "bundle"\n')  # first, when there
    assert (parsed(["press", "x"]).fat, parsed(["press", "x"]).runtime) == (False, "bundle")
    (tmp_path / "elsewhere.toml").write_text("[press]\njobs = 3\n")
    args = parsed(["press", "x", "--config", "elsewhere.toml"])
    assert (args.jobs, args.runtime) == (3, "system")


def test_unknown_keys_and_wrong_types_in_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.condapress]\n"
        'fatt = true\njobs = "4"\nchannels = "conda-forge"\ntimeout = -1\nruntime = "static"\n'
        "[tool.condapress.plan]\nstrip = 1\noutput-dir = 'x'\n"
        "[tool.condapress.press]\ncompression-level = 12\nsmoke = 3\n"
    )
    assert run(["press", "pygreet"]) == (
        1,
        (
            "error: invalid configuration in pyproject.toml: tool.condapress.fatt is not a key "
            '(did you mean fat?); tool.condapress.jobs must be an integer, not "4"; '
            'tool.condapress.channels must be a list of strings, not "conda-forge"; '
            "tool.condapress.timeout: must be more than 0 seconds, not -1; "
            'tool.condapress.runtime must be one of system, bundle, not "static"; '
            "tool.condapress.press.compression-level must be one of 0 to 9, not 12; "
            "tool.condapress.press.smoke must be true, false or python code, not 3; "
            "tool.condapress.plan.strip must be true or false, not 1; "
            "tool.condapress.plan.output-dir is not a key\n"
            "hint: each key is a long option of 'condapress press --help' without its dashes; "
            "docs/cli.md lists them under Configuration\n"
        ),
    )


def test_a_file_that_cannot_be_read_or_is_no_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["plan", "x", "--config", "missing.toml"]) == (
        1,
        (
            "error: cannot read the configuration missing.toml: no such file or directory\n"
            "hint: give the path of a condapress.toml or pyproject.toml with --config\n"
        ),
    )
    (tmp_path / "condapress.toml").write_text("fat = \n")
    assert run(["plan", "x"]) == (
        1,
        (
            "error: the configuration condapress.toml is not valid TOML: Invalid value "
            "(at line 1, column 7)\n"
            "hint: fix the file's syntax (https://toml.io)\n"
        ),
    )


def test_plan_takes_one_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "condapress.toml").write_text('python = ["3.11", "3.12"]\n')
    assert run(["plan", "x"]) == (
        1,
        (
            "error: condapress plan takes one python, and condapress.toml gives several "
            "(3.11, 3.12)\n"
            "hint: pass --python X.Y, or set python in the plan table\n"
        ),
    )
    assert parsed(["plan", "x", "--python", "3.10"]).python == "3.10"


def test_specs_come_from_the_file_or_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["press"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "condapress press: error: the following arguments are required: SPEC (or specs in the "
        "configuration)"
    )
