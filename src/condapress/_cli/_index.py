"""`condapress index`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from condapress._cli._options import add_solve_options, positive, solve_request
from condapress.model import PlanOptions, PressOptions

if TYPE_CHECKING:
    import argparse


def configure_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "index",
        help="press specs into a PEP 503 simple index that pip installs from",
        description="Press each SPEC on its own, for each --python, and add the wheels to the "
        "simple index DIR/simple (PEP 503 pages with sha256 fragments, and PEP 658 metadata "
        "files), so that 'pip install --index-url file:///abs/DIR/simple NAME' works. The same "
        "wheel pressed twice goes in once; a wheel already in the index is kept; a different "
        "wheel of the same name is refused. The index changes all at once, or not at all.",
    )
    add_solve_options(parser, pythons=True)
    parser.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=Path("index"),
        metavar="DIR",
        help="the index's folder; the pages and wheels go in DIR/simple (default: ./index)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=positive,
        default=os.cpu_count() or 1,
        metavar="N",
        help="threads that extract, compress and patch binaries (default: the machine's cores)",
    )
    parser.add_argument(
        "--no-audit",
        dest="audit",
        action="store_false",
        help="index the wheels even when their audit finds errors",
    )
    parser.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="index the wheels even when PyPI would refuse them (a private index takes "
        "linux_<arch> wheels)",
    )
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    from condapress.index import build_index  # noqa: PLC0415

    pythons = args.python or [f"{sys.version_info.major}.{sys.version_info.minor}"]
    args.python = pythons[0]
    result = build_index(
        solve_request(args),
        pythons,
        PressOptions(
            plan=PlanOptions(fat=args.fat, runtime=args.runtime),
            jobs=args.jobs,
            audit=args.audit,
            check=args.check,
        ),
        args.output_dir,
    )
    for path in result.added:
        print(path)
    print(
        f"{result.simple}: {len(result.projects)} projects, {len(result.added)} wheels added, "
        f"{len(result.unchanged)} there already; pip install --index-url "
        f"{result.simple.resolve().as_uri()} NAME"
    )
    return 0
