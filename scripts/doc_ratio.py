"""Docstring and comment density of condapress's modules (STYLE.md rule 15: doc% >= 40, cmt% 10-20).

Not a test: it prints a table, one row a module (or only the public ones, with ``--public``):

- ``code``: lines that hold code, docstrings left out;
- ``doc%``: lines of docstrings and of ``#:`` attribute docs, per 100 code lines;
- ``cmt%``: lines with any other comment (whole-line or trailing), per 100 code lines.

A public module is one whose path has no ``_``-prefixed part (``plan/__init__.py``,
``retag.py``, ``formats/elf/__init__.py``). The last line sums the public modules.

Usage::

    python scripts/doc_ratio.py [--public] [SRC_DIR]
"""

from __future__ import annotations

import argparse
import ast
import io
import tokenize
from pathlib import Path
from typing import NamedTuple

_IGNORED = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}


class Counts(NamedTuple):
    """Line counts of one module."""

    code: int
    doc: int
    comment: int


def count(text: str) -> Counts:
    """The code, documentation and comment lines of the Python source *text*."""
    docs: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
                and first.end_lineno is not None
            ):
                docs.update(range(first.lineno, first.end_lineno + 1))
    code: set[int] = set()
    comments: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            (docs if tok.string.startswith("#:") else comments).add(tok.start[0])
        elif tok.type not in _IGNORED and tok.start[0] not in docs:
            code.update(range(tok.start[0], tok.end[0] + 1))
    return Counts(len(code - docs), len(docs), len(comments))


def _is_public(relative: Path) -> bool:
    return not any(part.startswith("_") for part in relative.with_suffix("").parts[:-1]) and (
        relative.name == "__init__.py" or not relative.name.startswith("_")
    )


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", type=Path, default=Path("src/condapress"))
    parser.add_argument("--public", action="store_true", help="only the public modules")
    args = parser.parse_args()
    total = Counts(0, 0, 0)
    print(f"{'module':40} {'code':>5} {'doc%':>5} {'cmt%':>5}")
    for path in sorted(args.src.rglob("*.py")):
        relative = path.relative_to(args.src)
        public = _is_public(relative)
        if args.public and not public:
            continue
        counts = count(path.read_text(encoding="utf-8"))
        if public:
            total = Counts(*(a + b for a, b in zip(total, counts, strict=True)))
        print(_row(str(relative), counts))
    print(_row("public modules", total))


def _row(name: str, counts: Counts) -> str:
    code = max(counts.code, 1)
    doc, comment = 100 * counts.doc / code, 100 * counts.comment / code
    return f"{name:40} {counts.code:5} {doc:5.0f} {comment:5.0f}"


if __name__ == "__main__":
    main()
