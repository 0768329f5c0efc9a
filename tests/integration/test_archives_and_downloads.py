"""Real archives conda reads, archives that decide the plan, hanging channels, full disks.

Every case runs the command line (in process with ``condapress._cli.main``, or as ``python -m
condapress`` where a process limit is needed) on a real archive or on a channel the test builds.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from typing import TYPE_CHECKING

import pytest
import rattler
from test_reliability import press, read_archive, write_archive

from conda_archives import Package, index
from conftest import REALWORLD, make_venv

if TYPE_CHECKING:
    from pathlib import Path

LIBEDIT = "libedit-3.1.20240808-pl5321h7949ede_0.conda"


def realworld() -> Path:
    if not REALWORLD.is_dir():
        pytest.skip("../shared/realworld is absent: the conda-forge archive tier needs it")
    return REALWORLD


# -- real archives that conda reads -------------------------------------------------------------


@pytest.mark.realworld
@pytest.mark.parametrize("name", ["lzo-2.10-h7b6447c_2.conda", "yaml-0.2.5-h7b6447c_0.conda"])
def test_anaconda_archives_with_an_empty_metadata_json(name: str, tmp_path: Path) -> None:
    root = realworld()
    run = press(
        root / "cf2024", tmp_path / "out", tmp_path / "cache", str(root / "more" / name),
        "--python", "3.10",
    )  # fmt: skip
    assert run.status == 0, run.stderr
    conda_name, version, _ = name.rsplit("-", 2)
    wheel = f"{conda_name}_conda-{version}-py3-none-manylinux_2_5_x86_64.manylinux1_x86_64.whl"
    assert run.stdout.split()[0] == str(tmp_path / "out" / wheel)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [wheel]


def _libedit_channel(root: Path, folder: Path) -> Path:
    """cf2024, plus what libedit needs and cf2024 lacks: ncurses >=6.5 and libgcc >=13.

    The ncurses is cf2024's own 6.4 archive labelled 6.5 (same sonames, libncurses.so.6 and
    libtinfo.so.6); libgcc is an empty package, as it is a system package that no wheel takes.
    """
    for subdir in ("linux-64", "noarch"):
        shutil.copytree(root / "cf2024" / subdir, folder / subdir)
    info, pkg = read_archive(folder / "linux-64" / "ncurses-6.4.20240210-h59595ed_0.conda")
    for member in info:
        if member.info.name == "info/index.json":
            member.data = json.dumps(
                {**json.loads(member.data), "version": "6.5.20240210"}
            ).encode()
    write_archive(folder / "linux-64" / "ncurses-6.5.20240210-h59595ed_0.conda", info, pkg)
    libgcc = Package(payload=[], index=index(name="libgcc", version="13.2.0", depends=[]))
    libgcc.conda(folder / "linux-64", "libgcc-13.2.0-h0_0.conda")
    asyncio.run(rattler.index.index_fs(folder, write_zst=False, write_shards=False, force=True))
    return folder


@pytest.mark.realworld
@pytest.mark.slow
def test_a_closure_with_libedit_presses_and_loads(tmp_path: Path) -> None:
    # libedit (conda-forge, rattler-build) records each link's size as its text's length.
    root = realworld()
    channel = _libedit_channel(root, tmp_path / "channel")
    archive = str(root / "more" / LIBEDIT)
    run = press(channel, tmp_path / "out", tmp_path / "cache", archive, "--python", "3.10", "--fat")
    assert run.status == 0, run.stderr
    [wheel] = (tmp_path / "out").iterdir()
    assert wheel.name == (
        "libedit_conda-3.1.20240808-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )
    assert run.stdout.split("  ")[-1] == "libedit + ncurses\n"
    venv = make_venv("3.10", tmp_path / "venv")
    venv.pip("install", "--no-deps", wheel)
    # libedit, loaded from the installed wheel, finds its ncurses through its RPATH.
    code = (
        "import ctypes, pathlib, sysconfig\n"
        "libs = pathlib.Path(sysconfig.get_paths()['purelib'], 'libedit_conda.libs')\n"
        "[lib] = libs.glob('libedit-*.so.0')\n"
        "edit = ctypes.CDLL(str(lib))\n"
        "edit.history_init.restype = ctypes.c_void_p\n"
        "print(bool(edit.history_init()))\n"
    )
    assert venv.run(venv.python, "-c", code).stdout == "True\n"
