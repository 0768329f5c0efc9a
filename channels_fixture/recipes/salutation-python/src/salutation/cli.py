"""Command line entry point ``salute``."""

from __future__ import annotations

import sys

from . import salute


def main(argv: list[str] | None = None) -> int:
    """Write a salutation for each name given (default: "world") to stdout; return 0."""
    args = sys.argv[1:] if argv is None else argv
    formal = "--formal" in args
    names = [a for a in args if a != "--formal"] or ["world"]
    for name in names:
        sys.stdout.write(salute(name, formal=formal) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
