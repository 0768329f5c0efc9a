"""`condapress check`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from condapress._cli._options import add_max_file_size

if TYPE_CHECKING:
    import argparse


def configure_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check wheels against what PyPI refuses on upload",
        description="Check each WHEEL (any wheel) against the rules PyPI applies on upload, on "
        "top of the audit: the file name (valid, with the name normalized), platform tags PyPI "
        "knows (no linux_<arch>), the file size limit, zip compression, the .dist-info where "
        "PyPI reads it, METADATA (core metadata, PyPI's own rules: classifiers, URLs, local "
        "versions), whether the long description renders, License-File and entry_points.txt. "
        "Errors are what PyPI refuses; warnings are what 'twine check --strict' fails on. The "
        "exit status is 1 when a wheel has an error (with --strict, also a warning).",
    )
    parser.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL", help="a .whl file")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail on warnings too, as 'twine check --strict' does",
    )
    add_max_file_size(parser)
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    from condapress import audit  # noqa: PLC0415

    reports = [audit.check_wheel(path, max_file_size=args.max_file_size) for path in args.wheels]
    print("\n".join(audit.check_text(report, strict=args.strict) for report in reports), end="")
    return 0 if all(report.ok(strict=args.strict) for report in reports) else 1
