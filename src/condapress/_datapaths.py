"""Data paths: what a build-prefix placeholder becomes, and the variables that replace it.

conda rewrites the build prefix in files at install time; a wheel has no install step. Each
placeholder is rewritten to :data:`NOWHERE`, an absolute path that cannot exist, so that no
library looks for its data relative to the current directory. Packages known to the table
``data/relocatable_env.json`` are pointed at their data inside the wheel by environment
variables, which the launchers of executables and an import hook
(:mod:`condapress.relocate._hook`) set.
Every function here is pure but :func:`table` (which reads package data once) and
:func:`linked_data` (which reads links).
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from condapress._paths import SITE_PACKAGES
from condapress.model import DataPaths, EnvSetting, FileMode, PathType, PlaceholderSite

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from condapress.model import Layout, PathEntry, UnpackedPackage, WheelSpec

__all__ = [
    "BUILD_PREFIXES",
    "LEGACY_PLACEHOLDER",
    "NOWHERE",
    "PLACEHOLDERS",
    "KnownPackage",
    "Variable",
    "environment",
    "known",
    "linked_data",
    "placeholder_value",
    "read_record",
    "record_text",
    "replace_placeholder",
    "resolve",
    "table",
    "under",
    "under_pattern",
    "wheel_path",
]

#: What every build-prefix placeholder becomes. ``/dev/null`` is a character device on every
#: Linux system, so nothing can exist below it: a library that opens its compiled-in path fails
#: cleanly (and falls back to its variable) instead of reading whatever the current directory
#: holds under a relative path. It is shorter than any placeholder conda-build writes.
NOWHERE = "/dev/null/condapress"
#: The build prefixes conda-build leaves in files for conda to replace at install time: the
#: placeholder of current builds (padded to 255 characters, with this in it) and the legacy one.
LEGACY_PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"
PLACEHOLDERS = ("_h_env_placehold", LEGACY_PLACEHOLDER)
#: Strings only a conda build machine writes: its build root, and the placeholders. None may
#: survive a relocation that works; the audit looks for each.
BUILD_PREFIXES = ("/home/conda/feedstock_root/build_artifacts/", *PLACEHOLDERS)
# What may follow the placeholder in a path; a quote, NUL, space, ':' or ';' ends it.
_PATH_CHARS = re.compile(rb"[\w./+@%~-]*")


@dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable a package reads for a path of its data."""

    name: str
    #: where it points, under the conda prefix (``*`` and ``[..]`` match within a component).
    path: str
    #: the compiled-in path it stands for; None: the path it points at.
    covers: str | None = None
    #: set by the import hook too, not only by launchers.
    at_import: bool = True
    #: other names of the same setting.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KnownPackage:
    """What the table knows of one conda package's data paths."""

    variables: tuple[Variable, ...] = ()
    #: (path, reason) of paths found, or never opened, without a variable of their own.
    found: tuple[tuple[str, str], ...] = ()
    #: (path, what is lost) of paths no variable can point to.
    unreachable: tuple[tuple[str, str], ...] = ()
    #: its libraries resolve a relative compiled-in path against their own folder, so the
    #: placeholder in its binary files becomes the prefix folder relative to the file.
    relative: bool = False


@cache
def table() -> Mapping[str, KnownPackage]:
    """The table of relocatable packages (``data/relocatable_env.json``), by conda name."""
    data = resources.files("condapress") / "data" / "relocatable_env.json"
    raw = json.loads(data.read_text(encoding="utf-8"))
    return {
        name: KnownPackage(
            variables=tuple(
                Variable(
                    name=v["name"],
                    path=v["path"],
                    covers=v.get("covers"),
                    at_import=v.get("at_import", True),
                    aliases=tuple(v.get("aliases", ())),
                )
                for v in entry.get("variables", ())
            ),
            found=tuple(entry.get("found", {}).items()),
            unreachable=tuple(entry.get("unreachable", {}).items()),
            relative=bool(entry.get("relative", False)),
        )
        for name, entry in raw["packages"].items()
    }


def known(package: str) -> KnownPackage | None:
    """What the table knows of *package*: its own entry, then what holds for every package.

    >>> dict(known("xz").unreachable)["share/locale"][:21]
    "GNU gettext's message"
    """
    own, every = table().get(package), table().get("*")
    if own is None or every is None:
        return own or every
    return replace(
        own, found=own.found + every.found, unreachable=own.unreachable + every.unreachable
    )


def placeholder_value(package: str, mode: FileMode | None, dest: str, prefix: str) -> str:
    """What the placeholder becomes in the file *dest* of the wheel whose prefix is *prefix*.

    :data:`NOWHERE`, except in the binary files of a package whose libraries resolve a relative
    path against their own folder: there, *prefix* relative to the file's folder, which every
    copy of such a library in one process resolves to its own data.

    >>> placeholder_value("libgreet", FileMode.BINARY, "w.libs/libgreet-1a2b3c4d.so.1", "w.libs")
    '.'
    >>> placeholder_value("ncurses", FileMode.BINARY, "w.libs/libtinfo-1a2b3c4d.so.6", "w.libs")
    '/dev/null/condapress'
    """
    known = table().get(package)
    if known is not None and known.relative and mode is FileMode.BINARY:
        return posixpath.relpath(prefix, posixpath.dirname(dest) or ".")
    return NOWHERE


def under(path: str, folder: str) -> bool:
    """Whether *path* is *folder* or inside it (``.`` holds everything).

    >>> under("share/terminfo/x/xterm", "share/terminfo"), under("share/terminfox", "share/t")
    (True, False)
    """
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def under_pattern(path: str, pattern: str) -> bool:
    """Whether *path* is, or is inside, a folder *pattern* names (``*``, ``[..]`` in a component).

    >>> under_pattern("include/python3.12/object.h", "include/python[0-9].*")
    True
    >>> under_pattern("include", "include/python[0-9].*"), under_pattern("includes/x", "include")
    (False, False)
    """
    parts, wanted = path.split("/"), pattern.split("/")
    return len(parts) >= len(wanted) and all(
        fnmatch.fnmatchcase(part, want) for part, want in zip(parts, wanted, strict=False)
    )


def wheel_path(prefix: str, path: str) -> str:
    """Where *path* under the conda prefix is in a wheel whose prefix folder is *prefix*.

    >>> wheel_path("tk_conda.libs", "lib/tcl8.6"), wheel_path("x.libs", "site-packages/x/a.py")
    ('tk_conda.libs/lib/tcl8.6', 'x/a.py')
    """
    if path == ".":
        return prefix
    match = SITE_PACKAGES.match(path)
    return path[match.end() :] if match else f"{prefix}/{path}"


def resolve(pattern: str, paths: Iterable[str]) -> str | None:
    """The one path or folder among *paths* (and their folders) that *pattern* names, or None.

    >>> resolve("lib/tcl[0-9].[0-9]", ["lib/tcl8.6/init.tcl", "lib/tcl8/8.4/http.tm"])
    'lib/tcl8.6'
    """
    depth = pattern.count("/")
    candidates = {p.rsplit("/", p.count("/") - depth)[0] for p in paths if p.count("/") >= depth}
    matches = sorted(c for c in candidates if fnmatch.fnmatchcase(c, pattern))
    return matches[0] if len(matches) == 1 else None


def linked_data(package: UnpackedPackage, name: str) -> dict[str, PathEntry]:
    """Symbolic links under the data paths of a known *package*, with the file each resolves to.

    A wheel holds no links; ncurses' terminfo database names a thousand terminals through them,
    so these (and only these) are kept as copies of their targets.
    """
    known = table().get(name)
    if known is None:
        return {}
    entries = {entry.path: entry for entry in package.info.paths}
    folders = [
        path
        for variable in known.variables
        if (path := resolve(variable.path, entries)) is not None
    ]
    links = {}
    for entry in package.info.paths:
        if entry.path_type is PathType.SOFTLINK and any(under(entry.path, f) for f in folders):
            target = _link_target(package, entry.path, entries)
            if target is not None:
                links[entry.path] = target
    return links


def _link_target(
    package: UnpackedPackage, path: str, entries: Mapping[str, PathEntry]
) -> PathEntry | None:
    for _ in range(8):  # a chain of links, never a loop
        link = package.root / path
        if not link.is_symlink():
            return None
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), str(link.readlink())))
        entry = entries.get(path)
        if entry is None:
            return None
        if entry.path_type is PathType.HARDLINK:
            return entry
    return None


def environment(
    wheel: WheelSpec,
    wheels: Sequence[WheelSpec],
    layouts: Mapping[str, Layout],
    packages: Mapping[str, UnpackedPackage],
) -> tuple[EnvSetting, ...]:
    """The variables that *wheel*'s launchers and import hook set.

    They cover its own members and those of the wheels it requires (split mode), each pointing
    into the wheel that carries the data. A variable whose data its package does not have is
    recorded with no path (the audit then knows that nothing is lost); one whose data the
    package has is recorded with its path even if relocation left it out, so that the audit
    reports it.
    """
    by_name = {spec.distribution: spec for spec in wheels}
    order, queue = [wheel.distribution], list(wheel.wheel_dependencies)
    while queue:
        name = queue.pop(0)
        if name not in order and name in by_name:
            order.append(name)
            queue.extend(by_name[name].wheel_dependencies)
    settings: dict[str, EnvSetting] = {}
    for distribution in order:
        layout = layouts[distribution]
        for member in by_name[distribution].members:
            known = table().get(member)
            if known is None:
                continue
            paths = [entry.path for entry in packages[member].info.paths]
            for variable in known.variables:
                path = resolve(variable.path, paths)
                setting = EnvSetting(
                    name=variable.name,
                    path=None if path is None else f"{layout.libs_dir}/{path}",
                    covers=variable.covers or path or variable.path,
                    package=member,
                    prefix=layout.libs_dir,
                    at_import=variable.at_import,
                    aliases=variable.aliases,
                )
                # the first wheel (this one, then the nearest requirement) with the data wins
                known_setting = settings.get(variable.name)
                if known_setting is None or (known_setting.path is None and path is not None):
                    settings[variable.name] = setting
    return tuple(settings[name] for name in sorted(settings))


def replace_placeholder(
    data: bytes,
    placeholder: str,
    new: str,
    mode: FileMode,
    loader_strings: Sequence[str] = (),
) -> tuple[bytes, tuple[str, ...]]:
    r"""*data* with every *placeholder* replaced by *new*, and the paths the placeholder named.

    In binary mode, as conda does, each NUL-terminated string holding the placeholder is
    rewritten and padded with NULs so that no offset moves. A string that is one of
    *loader_strings* (the file's RPATH, which patchelf rewrites) names no data path.

    >>> replace_placeholder(b"x\0/p/share/t\0", "/p", "/n", FileMode.BINARY)
    (b'x\x00/n/share/t\x00', ('share/t',))
    """
    old, replacement = placeholder.encode(), new.encode()
    found: set[str] = set()
    loaders = {s.encode() for s in loader_strings}

    def paths_in(text: bytes) -> None:
        start = text.find(old)
        while start >= 0:
            suffix = _PATH_CHARS.match(text, start + len(old))
            tail = suffix.group().decode(errors="replace") if suffix else ""
            tail = tail if tail.startswith("/") else ""
            found.add(posixpath.normpath("/" + tail).lstrip("/") or ".")
            start = text.find(old, start + len(old))

    if mode is FileMode.BINARY:

        def padded(match: re.Match[bytes]) -> bytes:
            text = match.group()
            if text not in loaders:
                paths_in(text)
            count = text.count(old)
            return text.replace(old, replacement) + b"\0" * ((len(old) - len(replacement)) * count)

        data = re.sub(re.escape(old) + rb"[^\0]*", padded, data)
    else:
        paths_in(data)
        data = data.replace(old, replacement)
    return data, tuple(sorted(found))


def record_text(record: DataPaths) -> str:
    """``conda-data-paths.json``: the placeholder sites of a wheel and the variables set."""
    document = {
        "version": 1,
        "placeholder_becomes": NOWHERE,
        "prefix": record.prefix,
        "environment": [
            {
                "name": s.name,
                "path": s.path,
                "covers": s.covers,
                "package": s.package,
                "prefix": s.prefix,
                "at_import": s.at_import,
                "aliases": list(s.aliases),
            }
            for s in record.environment
        ],
        "sites": [
            {"file": s.file, "package": s.package, "mode": s.mode.value, "paths": list(s.paths)}
            for s in sorted(record.sites, key=lambda site: site.file)
        ],
    }
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def read_record(text: str) -> DataPaths | None:
    """The record in *text*, or None when it is not one condapress wrote (any wheel is audited)."""
    try:
        raw = json.loads(text)
        environment = tuple(
            EnvSetting(
                name=str(e["name"]),
                path=None if e["path"] is None else str(e["path"]),
                covers=str(e["covers"]),
                package=str(e["package"]),
                prefix=str(e["prefix"]),
                at_import=bool(e["at_import"]),
                aliases=tuple(str(a) for a in e["aliases"]),
            )
            for e in raw["environment"]
        )
        sites = tuple(
            PlaceholderSite(
                file=str(s["file"]),
                package=str(s["package"]),
                mode=FileMode(s["mode"]),
                paths=tuple(str(p) for p in s["paths"]),
            )
            for s in raw["sites"]
        )
        return DataPaths(str(raw["prefix"]), environment, sites)
    except (ValueError, KeyError, TypeError):
        return None
