"""The rules for names and paths, written once: conda's layout, safe names, where to write.

The layout rules say where a conda package keeps its python modules and its own metadata
(:data:`SITE_PACKAGES`, :data:`DIST_INFO`). Names read from a package (sonames, paths,
entry-point and distribution names) are checked where they are read (:func:`safe_name`), with a
message that names the package. :func:`destination` is the line behind those checks: the one
function through which the press chooses where to write a file, refusing any path that would
leave its root, lexically or through a symbolic link; :class:`Claims` keeps two files of a wheel
from taking the same path, also when the two names differ only in their Unicode normalization.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING
from urllib.parse import unquote

from packaging.utils import InvalidName, canonicalize_name

from condapress._limits import CHUNK
from condapress.errors import OverlapError, WheelContentsError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = [
    "DIST_INFO",
    "SITE_PACKAGES",
    "Claim",
    "Claims",
    "destination",
    "dist_info_file",
    "file_digest",
    "file_url_path",
    "has_control",
    "is_valid_name",
    "path_problem",
    "safe_name",
    "stream_digest",
]

logger = logging.getLogger(__name__)

#: Where a conda package keeps its python modules: ``site-packages/`` for ``noarch: python``,
#: ``lib/pythonX.Y/site-packages/`` (``X.Yt`` for free-threaded builds) for the others, and
#: ``Lib/site-packages/`` on Windows.
SITE_PACKAGES = re.compile(
    r"^(?:site-packages|lib/python\d+\.\d+t?/site-packages|Lib/site-packages)/"
)
#: A ``*.dist-info`` folder in site-packages: a python package's own metadata.
DIST_INFO = re.compile(SITE_PACKAGES.pattern + r"[^/]+\.dist-info/")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_valid_name(text: str) -> bool:
    """Whether *text* is a valid distribution or extra name (PEP 508, as packaging checks it).

    >>> is_valid_name("ruamel.yaml"), is_valid_name("-pkg"), is_valid_name("a b")
    (True, False, False)
    """
    try:
        canonicalize_name(text, validate=True)
    except InvalidName:
        return False
    return True


def dist_info_file(path: str) -> str | None:
    """The path inside its ``*.dist-info`` folder of a file of a package's own metadata, or None.

    >>> dist_info_file("lib/python3.11/site-packages/PyYAML-6.0.dist-info/METADATA")
    'METADATA'
    >>> dist_info_file("site-packages/yaml/__init__.py") is None
    True
    """
    match = DIST_INFO.match(path)
    return path[match.end() :] if match else None


def safe_name(value: str) -> bool:
    r"""Whether *value* can serve as one file name: no separators, '..' or control characters.

    >>> safe_name("libz.so.1"), safe_name("../libz.so.1"), safe_name("a\x1b")
    (True, False, False)
    """
    return bool(value) and not (
        "/" in value or "\\" in value or ".." in value or _CONTROL.search(value)
    )


def has_control(value: str) -> bool:
    """Whether *value* holds a control character (none may appear in a wheel's file names)."""
    return _CONTROL.search(value) is not None


def path_problem(path: str) -> str | None:
    r"""What makes *path* unfit as a relative path inside a folder or a wheel, or None.

    >>> path_problem("pkg/mod.py") is None, path_problem("pkg/../../x")
    (True, "has a '..' component")
    """
    parts = path.split("/")
    for bad, problem in (
        (not path, "is empty"),
        ("\\" in path, "uses '\\' instead of '/'"),
        (any(c in path for c in "\0\n\r"), "contains a control character"),
        (path.startswith("/"), "is an absolute path"),
        (".." in parts, "has a '..' component"),
        ("" in parts or "." in parts, "is not a normalized path (empty or '.' component)"),
    ):
        if bad:
            return problem
    return None


def destination(root: Path, relative: str) -> Path:
    """``root / relative`` with its folder created, once it is known to stay inside *root*.

    Checked before anything is created: *relative* must be a clean relative path, and once the
    symbolic links that exist under *root* are resolved it must still lie inside *root*.

    :raises WheelContentsError: the path would leave *root*; nothing was created.
    """
    return _checked(root, root.resolve(), relative)[0]


class Destinations:
    """:func:`destination` for the many files a stage receives under one *root*, checked alike.

    The root is resolved once, and a folder found (or made) with no symbolic link between it
    and the root is neither walked nor made again: a later path in it costs one ``lstat``, of
    its last component, and one whose last component is a symbolic link is checked whole. That
    holds while nothing under *root* replaces a folder by a link, which a stage never does.
    Several threads may call it.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._base = root.resolve()
        #: folders under *root*, relative, that are folders all the way down from it.
        self._plain: set[str] = set()

    def __call__(self, relative: str) -> Path:
        """The checked ``root / relative``, as :func:`destination` gives it.

        :raises WheelContentsError: the path would leave *root*; nothing was created.
        """
        folder = relative.rpartition("/")[0]
        if folder in self._plain and path_problem(relative) is None:
            target = self.root / relative
            if not target.is_symlink():
                return target
        target, plain = _checked(self.root, self._base, relative)
        if plain:
            self._plain.add(folder)
        return target


def _checked(root: Path, base: Path, relative: str) -> tuple[Path, bool]:
    """:func:`destination` for *base*, the resolved *root*; and whether no link led there."""
    problem = path_problem(relative)
    target = root / relative
    plain = False
    if problem is None:
        resolved, plain = _resolved_under(base, relative)
        if base not in resolved.parents:
            problem = f"resolves to {resolved}, outside {base}"
    if problem is not None:
        raise WheelContentsError(
            f"refusing to write {relative!r} in {root}: it {problem}", path=relative
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    return target, plain


def _resolved_under(base: Path, relative: str) -> tuple[Path, bool]:
    """``(base / relative).resolve()`` for a resolved *base* and a clean *relative* path.

    And whether the walk met no symbolic link (every folder met, or made after it, is a folder).
    The same answer, with one ``lstat`` per component of *relative* that exists instead of one
    per component of the whole path: a component that does not exist ends the walk (nothing
    below it can be a link), and at the first symbolic link ``resolve`` takes over.
    """
    path = str(base)
    for part in relative.split("/"):
        path = f"{path}/{part}"
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:  # nothing below a missing folder can be a link
            return base / relative, True
        except OSError:  # not a folder, no permission: resolve() says what it makes of it
            return (base / relative).resolve(), False
        if stat.S_ISLNK(mode):
            return (base / relative).resolve(), False
    return base / relative, True


def file_url_path(path: str) -> str:
    """The local path a ``file://`` URL's (already split off) *path* part names.

    >>> file_url_path("/srv/my%20channel/noarch/a-1-0.conda")
    '/srv/my channel/noarch/a-1-0.conda'

    It is :func:`urllib.request.url2pathname`, which on POSIX is :func:`urllib.parse.unquote`;
    ``urllib.request`` itself is imported only on Windows (its http and email imports cost the
    ``plan`` command 10 ms).
    """
    if os.name == "nt":  # pragma: no cover - condapress runs on POSIX hosts
        from urllib.request import url2pathname  # noqa: PLC0415

        return url2pathname(path)
    return unquote(path)


def identity(st: os.stat_result) -> list[int]:
    """What identifies the bytes of a file: device, inode, size, mtime and ctime.

    Any write to a file changes its ctime, which no user can set back, so an equal identity means
    unchanged bytes (the verdicts of the download cache, the remembered solves).
    """
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def file_digest(path: Path, algorithm: str = "sha256") -> tuple[str, int]:
    """The hex digest of the file at *path* (symbolic links followed), and its size."""
    with path.open("rb") as handle:
        return stream_digest(handle, algorithm)


def stream_digest(stream: IO[bytes], algorithm: str = "sha256") -> tuple[str, int]:
    """The hex digest of what is left to read in *stream*, and its size."""
    digest = hashlib.new(algorithm)
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


@dataclass(frozen=True, slots=True)
class Claim:
    """A file that wants a path in the wheel."""

    #: the conda package (``name-version-build``) that ships it.
    package: str
    #: where it comes from: its path in the package, or what generates it.
    source: str
    #: what it holds, computed only when another file wants the same path.
    content: Callable[[], str] = field(compare=False)

    def __str__(self) -> str:
        return f"{self.source} of {self.package}"


@dataclass
class Claims:
    """Which file holds each path of a wheel: the first to claim it, in the plan's order.

    Two names that are equal in Unicode normalization form C are one path: macOS and some other
    file systems store them as one file. A folder and a file of the same name are a conflict too.

    :param allow_overlap: keep the first file when a later one differs, with a warning, instead
        of raising :class:`OverlapError`.
    """

    allow_overlap: bool = False
    _files: dict[str, tuple[str, Claim]] = field(default_factory=dict)
    _folders: dict[str, tuple[str, Claim]] = field(default_factory=dict)

    def claim(self, path: str, claim: Claim) -> str | None:
        """Give *path* to *claim*: None when it is its, else why it is left out.

        :raises OverlapError: another file holds the path (or a folder of that name) and its
            content differs, and overlap is not allowed.
        """
        key = unicodedata.normalize("NFC", path)
        folders = [key.rsplit("/", depth)[0] for depth in range(1, key.count("/") + 1)]
        held = self._files.get(key)
        if held is not None:
            first_path, first = held
            if first.content() == claim.content():
                logger.info(
                    "%s: %s is the same file as %s; the wheel holds it once",
                    _spelled(first_path, path),
                    claim,
                    first,
                )
                return f"the same file as {first} is already in the wheel"
            conflict = f"would hold two different files: {first} and {claim}"
        elif key in self._folders:
            first_path, first = self._folders[key]
            conflict = f"would be both a folder (of {first}) and a file ({claim})"
        elif clash := next((f for f in folders if f in self._files), None):
            first_path, first = self._files[clash]
            conflict = f"would be both a file ({first}) and a folder (of {claim})"
            path = _prefix(path, clash)
        else:
            self._files[key] = (path, claim)
            for folder in folders:
                self._folders.setdefault(folder, (_prefix(path, folder), claim))
            return None
        where = _spelled(first_path, path)
        if not self.allow_overlap:
            raise OverlapError(
                f"{where} in the wheel {conflict}",
                hint=f"pass --allow-overlap to keep the file of {first.package}, the first "
                "package in the plan's order, and leave the other out",
                package=claim.package,
                path=path,
            )
        logger.warning("%s in the wheel %s; keeping the first (--allow-overlap)", where, conflict)
        return f"{where} is already taken by {first} (--allow-overlap)"


def _prefix(path: str, folder: str) -> str:
    """The folder of *path* that *folder* (its normalized form) names, as *path* spells it."""
    return "/".join(path.split("/")[: folder.count("/") + 1])


def _spelled(first: str, second: str) -> str:
    """The path as the message shows it: both spellings when they differ in normalization."""
    if first == second:
        return repr(first)
    return f"{first!a} (also spelled {second!a}, another Unicode normalization)"
