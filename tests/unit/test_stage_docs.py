"""The stage numbers agree: docs/index.md's table, the stage modules' docstrings, _core's steps."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INDEX = REPO / "docs" / "index.md"
#: ``| 3 | plan | `condapress.plan` | ...`` rows of the table.
ROWS = re.findall(
    r"^\| (\d+) \| (\w+) \| `condapress\.(\w+)` \|", INDEX.read_text(encoding="utf-8"), re.MULTILINE
)


def test_the_table_lists_the_steps_in_order() -> None:
    assert [(int(step), stage) for step, stage, _ in ROWS] == [
        (1, "resolve"),
        (2, "peek"),
        (3, "plan"),
        (4, "unpack"),
        (5, "relocate"),
        (6, "retag"),
        (7, "assemble"),
        (8, "audit"),
        (9, "check"),
        (10, "smoke"),
    ]


def test_each_stage_module_names_its_step_as_the_table_does() -> None:
    wrong = []
    for step, _, module in ROWS:
        summary = (importlib.import_module(f"condapress.{module}").__doc__ or "").splitlines()[0]
        named = re.match(r"Stages? ([\d, and]+), (\w+): ", summary)
        if named is None or step not in re.findall(r"\d+", named[1]):
            wrong.append(f"condapress.{module}: {summary}")
    assert wrong == []


def test_the_recipe_numbers_its_steps_as_the_table_does() -> None:
    source = (REPO / "src" / "condapress" / "_core.py").read_text(encoding="utf-8")
    comments = " ".join(re.findall(r"#(.*)", source))
    steps = [(step, stage) for step, stage in re.findall(r"(\d+)\. (\w+)", comments) if step != "0"]
    assert steps == [(step, stage) for step, stage, _ in ROWS]
