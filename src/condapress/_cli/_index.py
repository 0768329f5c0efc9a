"""`condapress index`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from condapress._cli import _options
from condapress._cli._progress import reporting
from condapress.errors import printable
from condapress.model import PressOptions

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
        "wheel of the same name is refused. The index changes all at once, or not at all. "
        "With --all, every python package of the channels is pressed instead of SPECs.",
    )
    _options.add_solve_options(parser, pythons=True)
    parser.add_argument(
        "--all",
        action="store_true",
        help="instead of SPECs, press every python package of the channels (noarch python, or "
        "built for a --python) for --subdir, the newest build of each that solves; a package "
        "that cannot be pressed is skipped, with its reason logged and listed at the end "
        "(exit status 0 unless none could be pressed)",
    )
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
        type=_options.positive,
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

    if args.all and args.specs:
        args.config_parser.error("--all presses every python package: give no SPEC with it")
    pythons = _options.pythons_of(args)
    request = _options.solve_request(args)
    if args.all:
        from dataclasses import replace  # noqa: PLC0415

        from condapress.solve import python_packages  # noqa: PLC0415

        names = {n for p in pythons for n in python_packages(replace(request, python=p))}
        request = replace(request, specs=tuple(sorted(names)))
    with reporting(args) as reporter:
        options = PressOptions(
            plan=_options.plan_options(args),
            jobs=args.jobs,
            audit=args.audit,
            check=args.check,
            reporter=reporter,
        )
        result = build_index(request, pythons, options, args.output_dir, keep_going=args.all)
    for path in result.added:
        print(path)
    for skipped in result.skipped:
        print(f"skipped {skipped.spec} for python {skipped.python}: {printable(skipped.reason)}")
    print(
        f"{result.simple}: {len(result.projects)} projects, {len(result.added)} wheels added, "
        f"{len(result.unchanged)} there already; pip install --index-url "
        f"{result.simple.resolve().as_uri()} NAME"
    )
    return 0
