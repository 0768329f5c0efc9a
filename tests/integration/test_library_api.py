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


def test_planning_does_not_load_networkx(tmp_path: Path) -> None:
    """networkx draws ``--graph`` only: a plan (``condapress plan``, a press) does without it."""
    code = (
        "import pathlib, sys; from condapress import _core; from condapress.model import *; "
        f"p = _core.make_plan(SolveRequest(specs=('tally',), channels=({str(FIXTURE_CHANNEL)!r},),"
        f" python='3.11', cache_dir=pathlib.Path({str(tmp_path)!r})), PlanOptions(fat=True)); "
        "print(len(p.wheels), 'networkx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "1 False\n"


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
