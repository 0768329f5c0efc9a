"""Write one staged file of a relocation layout: placeholders rewritten, shebangs, launchers."""

from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING

from condapress.model import FileMode

if TYPE_CHECKING:
    from pathlib import Path

    from condapress.model import Placement

__all__ = ["LAUNCHER", "rewrite_placeholder", "write_python_script"]


def write_python_script(source: Path, target: Path) -> None:
    with source.open("rb") as src, target.open("wb") as dst:
        src.readline()
        dst.write(b"#!python\n")
        shutil.copyfileobj(src, dst)


def rewrite_placeholder(source: Path, target: Path, placement: Placement) -> None:
    assert placement.placeholder is not None  # noqa: S101 - checked by the caller
    assert placement.prefix is not None  # noqa: S101
    data = source.read_bytes()
    old, new = placement.placeholder.encode(), placement.prefix.encode()
    if placement.file_mode is FileMode.BINARY:
        # As conda does: inside each NUL-terminated string, replace the placeholder and pad the
        # string with NULs so that every offset in the file stays where it was.
        def padded(match: re.Match[bytes]) -> bytes:
            text = match.group()
            count = text.count(old)
            return text.replace(old, new) + b"\0" * ((len(old) - len(new)) * count)

        data = re.sub(re.escape(old) + rb"[^\0]*", padded, data)
    else:
        data = data.replace(old, new)
    target.write_bytes(data)


LAUNCHER = '''#!python
"""Run {name}, kept inside the wheel in {target}; installed by condapress."""
import os
import sys


def _find():
    here = os.path.dirname(os.path.abspath(__file__))
    # sys.path covers venv and --user installs; a --target install puts bin/ beside the packages.
    for base in [*sys.path, os.path.dirname(here)]:
        exe = os.path.join(base or os.curdir, *"{target}".split("/"))
        if os.path.isfile(exe):
            return exe
    sys.exit("{name}: cannot find {target} on sys.path; is its package installed?")


if __name__ == "__main__":
    exe = _find()
    os.execv(exe, [exe, *sys.argv[1:]])
'''
