"""`condapress press`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from condapress._cli._options import (
    add_max_file_size,
    add_solve_options,
    plan_options,
    positive,
    pythons_of,
    solve_request,
)
from condapress._cli._progress import reporting
from condapress.model import PressOptions, SmokeOptions

if TYPE_CHECKING:
    import argparse

    from condapress._progress import Reporter
    from condapress.model import PressResult


def configure_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "press",
        help="press SPEC's closure into wheels (the default command)",
        description="Resolve SPEC on the channels, plan the wheels, then unpack, relocate, tag "
        "and write them. 'condapress SPEC...' is short for 'condapress press SPEC...'. Prints "
        "one line per wheel: path, tags, size and the conda packages inside. No wheel is "
        "written unless every wheel of the plan could be built; with several --python, unless "
        "every press succeeded.",
    )
    add_solve_options(parser, pythons=True)
    parser.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=Path("wheelhouse"),
        metavar="DIR",
        help="where to write the wheels, made if needed and checked before any work "
        "(default: ./wheelhouse)",
    )
    parser.add_argument(
        "--compression-level",
        type=int,
        choices=range(10),
        default=6,
        metavar="0-9",
        help="deflate level of the wheel's zip members; 0 stores them (default: 6)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=positive,
        default=os.cpu_count() or 1,
        metavar="N",
        help="threads that extract, compress and patch binaries; the wheels are byte for byte "
        f"the same for any N (default: the machine's cores, {os.cpu_count() or 1})",
    )
    parser.add_argument(
        "--plat",
        metavar="TAG",
        help="tag the platform wheels TAG (e.g. manylinux_2_28_x86_64, manylinux2014 or "
        "macosx_12_0_arm64): "
        "fails, saying why, when the binaries cannot honour it (default: the most compatible "
        "tag they honour)",
    )
    parser.add_argument(
        "--no-audit",
        dest="audit",
        action="store_false",
        help="write the wheels even when their audit finds errors (see 'condapress audit')",
    )
    parser.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="write the wheels even when PyPI would refuse them (see 'condapress check')",
    )
    add_max_file_size(parser)
    parser.add_argument(
        "--smoke",
        nargs="?",
        const="",
        metavar="CODE",
        help="before the wheels land, install them with pip into a fresh venv of the target "
        "CPython, run 'pip check', import every top-level module and package they install, "
        "and run the python CODE if given; a failure writes no wheel. Put it after the specs, "
        "or write --smoke=CODE",
    )
    parser.add_argument(
        "--smoke-python",
        type=Path,
        metavar="PATH",
        help="the CPython X.Y interpreter to make the smoke test's venv with (default: pythonX.Y "
        "on PATH, else the newest X.Y of pyenv's versions)",
    )
    parser.add_argument(
        "--allow-overlap",
        action="store_true",
        help="when packages merged into one wheel ship different files at the same path, keep "
        "the file of the first package in the plan's order (with a warning) instead of failing",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print what was made as versioned JSON (schema: condapress/data/press-schema.json): "
        "every wheel's path, tags, size, sha256 and conda packages, its audit and check "
        "findings, and the plan in short, instead of one line per wheel",
    )
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    from condapress._core import press, press_each  # noqa: PLC0415

    pythons = pythons_of(args)
    results: tuple[PressResult, ...]
    with reporting(args) as reporter:
        if len(pythons) == 1:
            results = (press(solve_request(args), _options(args, reporter)),)
        else:
            results = press_each(solve_request(args), pythons, _options(args, reporter))
    if args.json:
        from condapress._result import press_document  # noqa: PLC0415

        print(json.dumps(press_document(results), indent=2))
        return 0
    for wheel in (wheel for result in results for wheel in result.wheels):
        tags = wheel.path.name.removesuffix(".whl").split("-", 2)[2]  # as the file name has them
        stripped = (
            "" if wheel.stripped is None else f"  (strip saved {wheel.stripped / 1024:.0f} KiB)"
        )
        print(
            f"{wheel.path}  {tags}  {wheel.size / 1024:.0f} KiB  {' + '.join(wheel.members)}"
            + stripped
        )
    return 0


def _options(args: argparse.Namespace, reporter: Reporter) -> PressOptions:
    return PressOptions(
        plan=plan_options(args),
        output_dir=args.output_dir,
        compression_level=args.compression_level,
        audit=args.audit,
        plat=args.plat,
        jobs=args.jobs,
        allow_overlap=args.allow_overlap,
        check=args.check,
        max_file_size=args.max_file_size,
        smoke=_smoke(args),
        reporter=reporter,
    )


def _smoke(args: argparse.Namespace) -> SmokeOptions | None:
    if args.smoke is None:
        return SmokeOptions(python=args.smoke_python) if args.smoke_python else None
    return SmokeOptions(code=args.smoke, python=args.smoke_python)
