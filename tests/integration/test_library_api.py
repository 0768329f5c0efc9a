"""condapress as a library: what importing it loads, and a whole press through press()."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import condapress
from support import FIXTURE_CHANNEL

if TYPE_CHECKING:
    from pathlib import Path


def test_importing_condapress_does_not_load_the_pipeline() -> None:
    code = "import sys, condapress; print('networkx' in sys.modules, 'rattler' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False False\n"


def test_a_plan_from_repodata_loads_neither_networkx_nor_the_readers(
    tmp_path: Path, realworld: Path
) -> None:
    """``condapress plan`` on a repodata snapshot imports only what it uses.

    networkx draws ``--graph`` only, importlib.metadata gives ``--version`` only, and the
    archive readers and the downloader read archives, of which a snapshot has none.
    """
    channel = realworld / "repodata" / "conda-forge-2024-05"
    code = f"""
import contextlib, io, sys
from condapress._cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    status = main(["plan", "six", "-c", {str(channel)!r}, "--python", "3.11",
                   "--cache-dir", {str(tmp_path)!r}])
heavy = ("networkx", "importlib.metadata", "conda_package_streaming", "zstandard", "tarfile")
print(status, "six" in out.getvalue(), [name for name in heavy if name in sys.modules])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "0 True []\n"


def test_press_as_a_library(tmp_path: Path) -> None:
    from condapress.model import PlanOptions

    result = condapress.press(
        condapress.SolveRequest(
            specs=("tally",),
            channels=(str(FIXTURE_CHANNEL),),
            python="3.11",
            cache_dir=tmp_path / "cache",
        ),
        condapress.PressOptions(plan=PlanOptions(fat=True), output_dir=tmp_path / "out"),
    )
    assert [w.path.name for w in result.wheels] == [
        "tally_conda-0.3.0-py3-none-manylinux_2_34_x86_64.whl"
    ]
    assert (
        result.plan.decision("tally").reason
        == "requested (native: no python dependency and no python files)"
    )
