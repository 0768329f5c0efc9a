"""`condapress upload`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse


def configure_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "upload",
        help="upload wheels to PyPI or another index, with twine",
        description="Upload each WHEEL with twine to the index at --repository-url (default: "
        "$TWINE_REPOSITORY_URL, else PyPI). The API token comes from $TWINE_PASSWORD, the user "
        "name from $TWINE_USERNAME (default: __token__); in a GitHub workflow without a token, "
        "twine uses trusted publishing. Before an upload to PyPI or TestPyPI every wheel is "
        "checked as 'condapress check' does, and none goes up if PyPI would refuse one. Prints "
        "one line per wheel uploaded.",
    )
    parser.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL", help="a .whl file")
    parser.add_argument(
        "--repository-url",
        metavar="URL",
        help="the index's upload URL, e.g. https://test.pypi.org/legacy/ (default: "
        "$TWINE_REPOSITORY_URL, else https://upload.pypi.org/legacy/)",
    )
    parser.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="upload to PyPI even what 'condapress check' says PyPI refuses",
    )
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    from condapress.upload import upload  # noqa: PLC0415

    uploaded = upload(args.wheels, repository_url=args.repository_url, check=args.check)
    for wheel in uploaded.wheels:
        print(f"uploaded {wheel} to {uploaded.url}")
    return 0
