"""The import hook: generated Python that points bundled libraries at their data when it runs.

Launchers and the ``<package>/_condapress_env.py`` module of a wheel share :func:`point_function`;
:func:`with_hook_import` makes a package's ``__init__.py`` import the module first. The paths
they set are relative to the install root and made absolute only when the code runs. In a
Windows wheel the module also adds the folders of the bundled DLLs to the DLL search path
(``os.add_dll_directory``), and holds the functions of the console scripts that run its
executables.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import tokenize
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from condapress.model import ConsoleScript, EnvSetting, Layout

__all__ = [
    "HOOK_MODULE",
    "hook_module",
    "hook_source",
    "hook_targets",
    "point_function",
    "with_hook_import",
]

#: The generated module of the import hook, inside each top-level package of the wheel.
HOOK_MODULE = "_condapress_env"
_HOOK_LINE = f"from . import {HOOK_MODULE}  # points bundled libraries at their data\n"


def hook_module(init: str) -> str:
    """The hook module beside the package ``__init__.py`` *init*.

    >>> hook_module("pygreet/__init__.py")
    'pygreet/_condapress_env.py'
    """
    return f"{posixpath.dirname(init)}/{HOOK_MODULE}.py"


def hook_targets(layout: Layout) -> tuple[str, ...]:
    """The ``__init__.py`` of every top-level package of *layout*: where the import hook goes."""
    special = (".libs", ".data", ".dist-info")
    taken = {p.dest for p in layout.placements}
    return tuple(
        sorted(
            p.dest
            for p in layout.placements
            if p.dest.count("/") == 1
            and p.dest.endswith("/__init__.py")
            and not p.dest.split("/")[0].endswith(special)
            and hook_module(p.dest) not in taken
        )
    )


_POINT = '''

_VARIABLES = {variables}


def _point(root):
    """Set each variable to its path under *root*, unless the user set it (or an alias)."""
    for name, path, aliases in _VARIABLES:
        value = os.path.join(os.path.abspath(root), *path.split("/"))
        if not any(os.environ.get(n) for n in (name,) + aliases) and os.path.exists(value):
            os.environ[name] = value
'''


def point_function(settings: Iterable[EnvSetting]) -> str:
    """Python source of ``_point(root)``, which sets *settings* (paths from the install root)."""
    rows = [(s.name, s.path, s.aliases) for s in settings if s.path is not None]
    listed = "".join(f"\n    {row!r}," for row in rows)
    return _POINT.format(variables=f"({listed}\n)" if rows else "()")


_DLLS = '''

_DLL_DIRECTORIES = {folders!r}
_DLL_HANDLES = []


def _add_dll_directories(root):
    """Let Windows find the DLLs the wheel bundles, whatever loads them (Python 3.8+)."""
    for folder in _DLL_DIRECTORIES:
        path = os.path.join(os.path.abspath(root), *folder.split("/"))
        if hasattr(os, "add_dll_directory") and os.path.isdir(path):
            _DLL_HANDLES.append(os.add_dll_directory(path))
'''

_LAUNCH = '''

_ALL_VARIABLES = {variables}


def _launch(target):
    """Run the executable *target* (a path from the install root) with this process's arguments.

    It gets every variable of the wheel; Ctrl+C reaches it through the console, and its exit
    status is the command's.
    """
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = dict(os.environ)
    for name, path, aliases in _ALL_VARIABLES:
        value = os.path.join(root, *path.split("/"))
        if not any(environment.get(n) for n in (name,) + aliases) and os.path.exists(value):
            environment[name] = value
    program = os.path.join(root, *target.split("/"))
    process = subprocess.Popen([program, *sys.argv[1:]], env=environment)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue
'''

_SCRIPT = '''

def {function}():
    """Run one executable of the wheel."""
    return _launch({target!r})
'''


def hook_source(
    settings: Iterable[EnvSetting],
    dll_directories: Sequence[str] = (),
    console_scripts: Sequence[ConsoleScript] = (),
) -> str:
    """The generated ``<package>/_condapress_env.py``: the ``at_import`` variables, set.

    :param dll_directories: folders (from the install root) added to Windows' DLL search path.
    :param console_scripts: the console scripts whose functions it holds.
    """
    settings = list(settings)
    source = (
        '"""Point the libraries bundled with this package at their data (written by condapress).'
        '"""\n\nimport os\n' + point_function(s for s in settings if s.at_import)
    )
    if dll_directories:
        source += _DLLS.format(folders=tuple(dll_directories))
    if console_scripts:
        rows = tuple((s.name, s.path, s.aliases) for s in settings if s.path is not None)
        source += _LAUNCH.format(variables=repr(rows))
        for script in console_scripts:
            source += _SCRIPT.format(function=script.function, target=script.target)
    root = "os.path.dirname(os.path.dirname(os.path.abspath(__file__)))"
    source += f"\n\n# this file is <install root>/<package>/{HOOK_MODULE}.py\n_point({root})\n"
    if dll_directories:
        source += f"_add_dll_directories({root})\n"
    return source


def with_hook_import(source: bytes) -> bytes:
    r"""*source* (an ``__init__.py``) importing the hook before anything else.

    Only its docstring and ``from __future__`` imports, which must come first, stay above.

    >>> print(with_hook_import(b"'Doc.'\nfrom __future__ import annotations\nimport os\n").decode())
    'Doc.'
    from __future__ import annotations
    from . import _condapress_env  # points bundled libraries at their data
    import os
    <BLANKLINE>
    """
    lines = source.splitlines(keepends=True)
    keep = 0  # lines that stay before the import
    with contextlib.suppress(tokenize.TokenError, SyntaxError):
        for index, (first, second, end) in enumerate(_statements(source)):
            docstring = index == 0 and first.type == tokenize.STRING
            future = first.string == "from" and second is not None and second.string == "__future__"
            if not (docstring or future):
                break
            keep = end
    head = b"".join(lines[:keep])
    if head and not head.endswith(b"\n"):
        head += b"\n"
    return head + _HOOK_LINE.encode() + b"".join(lines[keep:])


def _statements(
    source: bytes,
) -> Iterator[tuple[tokenize.TokenInfo, tokenize.TokenInfo | None, int]]:
    """(first token, second token, last line) of each top-level statement, lazily."""
    skipped = (tokenize.ENCODING, tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    tokens: list[tokenize.TokenInfo] = []
    for token in tokenize.tokenize(io.BytesIO(source).readline):
        if token.type == tokenize.ENDMARKER:
            return
        if token.type == tokenize.NEWLINE and tokens:
            yield tokens[0], tokens[1] if len(tokens) > 1 else None, token.end[0]
            tokens = []
        elif token.type not in skipped and len(tokens) < 2:  # noqa: PLR2004
            tokens.append(token)
