"""`condapress plan`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from condapress._cli._options import (
    add_solve_options,
    plan_options,
    solve_request,
    write_atomically,
)
from condapress._cli._progress import reporting

if TYPE_CHECKING:
    import argparse


def configure_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="resolve specs and show what each conda package becomes",
        description="Resolve SPEC on the channels and show, for every package of the closure, "
        "its class (root, python, native, system), why, and what it becomes: merged into a "
        "wheel, a wheel of its own, a Requires-Dist line, or dropped. Nothing is written "
        "except the --graph file.",
    )
    add_solve_options(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the plan as versioned JSON (schema: condapress/data/plan-schema.json)",
    )
    parser.add_argument(
        "--graph", type=Path, metavar="FILE.dot", help="also write the plan graph as Graphviz DOT"
    )
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    from condapress import _folders  # noqa: PLC0415
    from condapress._core import make_plan  # noqa: PLC0415
    from condapress.plan._render import plan_document, plan_dot, plan_table  # noqa: PLC0415

    if args.graph is not None:  # before the solve: a graph that cannot be written is no plan
        _folders.check_output_file(args.graph)
    options = plan_options(args)
    with reporting(args) as reporter:
        the_plan = make_plan(solve_request(args), options, reporter=reporter)
    if args.graph is not None:
        write_atomically(args.graph, plan_dot(the_plan))
    if args.json:
        print(json.dumps(plan_document(the_plan), indent=2))
    else:
        print(plan_table(the_plan), end="")
    return 0
