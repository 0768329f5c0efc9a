"""`condapress audit`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse


def configure_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="check any wheel for what pip, PyPI or a user would trip on",
        description="Report, for each WHEEL (any wheel, not only condapress's): the tags it "
        "claims and the most compatible manylinux policy its binaries satisfy (for Mach-O files, "
        "the macosx tag of their highest minimum macOS); every DT_NEEDED or load command and "
        "where it resolves; the highest GLIBC/GLIBCXX/CXXABI/GCC versions each library "
        "needs; RPATH problems; Mach-O code signatures, page by page; build-prefix strings left "
        "in files; exported std:: symbols (the "
        "C++ interposition hazard); RECORD and METADATA integrity; and, for a wheel condapress "
        "pressed, whether every path a build-prefix placeholder named is found at run time. "
        "For a Windows wheel: every DLL each binary imports and where Windows finds it (beside "
        "it, in a folder its package adds with os.add_dll_directory, or the system's), and "
        "bundled DLLs imported under their own names. Each finding has a level "
        "and a hint. The exit status is 1 when any finding is an error.",
    )
    parser.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL", help="a .whl file")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a versioned JSON document (schema: condapress/data/audit-schema.json)",
    )
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    from condapress import audit  # noqa: PLC0415

    reports = [audit.audit_wheel(path) for path in args.wheels]
    if args.json:
        print(json.dumps(audit.audit_document(reports), indent=2))
    else:
        print("\n\n".join(audit.audit_text(report) for report in reports))
    return 0 if all(report.ok for report in reports) else 1
