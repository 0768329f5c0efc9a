"""Parse a conda package's ``info/`` files into lenient raw dicts, then validate them.

Raw, then validated (``packaging.metadata``'s ``RawMetadata``/``Metadata.from_raw``): the JSON files
load into ``TypedDict`` shapes that promise nothing, and :func:`validate` turns them into
:class:`~condapress.model.PackageInfo` in one place, collecting every problem before it raises one
:class:`~condapress.errors.MetadataError` that lists them all.
"""

from __future__ import annotations

import json
import posixpath
import re
import reprlib
import shlex
from typing import TYPE_CHECKING, TypedDict, cast

from condapress._datapaths import LEGACY_PLACEHOLDER
from condapress._paths import has_control, safe_name
from condapress.errors import MetadataError, listing
from condapress.model import CondaRecord, FileMode, NoArch, PackageInfo, PathEntry, PathType

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["INFO_FILES", "RawInfo", "parse", "shown", "validate"]

#: The ``info/`` members whose content :func:`parse` reads; everything else is only listed.
INFO_FILES = frozenset(
    {
        "info/index.json",
        "info/paths.json",
        "info/files",
        "info/has_prefix",
        "info/no_link",
        "info/link.json",
        "info/run_exports.json",
        "info/about.json",
    }
)
#: conda's JSON files nest four levels at most; deeper is hostile, and Python's json, str and
#: repr recurse on it until they raise RecursionError.
_MAX_DEPTH = 32
_UNREADABLE = object()
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
#: (platform, arch) of old index.json files that predate ``subdir``.
_LEGACY_SUBDIRS = {
    ("linux", "x86_64"): "linux-64",
    ("linux", "x86"): "linux-32",
    ("linux", "aarch64"): "linux-aarch64",
    ("linux", "ppc64le"): "linux-ppc64le",
    ("linux", "s390x"): "linux-s390x",
    ("osx", "x86_64"): "osx-64",
    ("osx", "arm64"): "osx-arm64",
    ("win", "x86_64"): "win-64",
}
#: Shows a value of a package's metadata in a message: escaped as by repr, and shortened, since
#: a hostile file can hold megabytes in one value.
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 120
_shown = _SHOWN.repr


def shown(value: object) -> str:
    """*value* for a message: escaped as by repr, and shortened to about 120 characters."""
    return _shown(value)


class RawIndex(TypedDict, total=False):
    """``info/index.json`` as written; any key may be missing or of the wrong type."""

    name: object
    version: object
    build: object
    build_number: object
    subdir: object
    platform: object
    arch: object
    depends: object
    constrains: object
    noarch: object
    license: object
    timestamp: object


class RawPath(TypedDict, total=False):
    """One entry of ``info/paths.json``."""

    _path: object
    path_type: object
    sha256: object
    size_in_bytes: object
    prefix_placeholder: object
    file_mode: object
    no_link: object


class RawInfo(TypedDict, total=False):
    """Everything :func:`parse` read from ``info/``, before validation."""

    index: RawIndex
    #: ``paths.json`` entries, or None for an old package that has only ``info/files``.
    paths: list[RawPath] | None
    paths_version: object
    files: list[str]
    #: ``has_prefix`` lines split as conda splits them.
    has_prefix: list[list[str]]
    no_link: list[str]
    link: dict[str, object]
    run_exports: object
    about: dict[str, object]
    license_files: list[str]
    #: problems met while reading (missing files, broken JSON).
    problems: list[str]


def parse(files: Mapping[str, bytes], license_files: Sequence[str]) -> RawInfo:
    """Load the ``info/`` files (keyed by member name, e.g. ``info/index.json``) leniently."""
    problems: list[str] = []
    raw = RawInfo(license_files=sorted(license_files), problems=problems)

    def load(name: str) -> dict[str, object] | None:
        if name not in files:
            return None
        value = _json(name, files[name], problems)
        if isinstance(value, list) and name == "info/run_exports.json":
            return {"weak": value}  # very old conda-build wrote a bare list: all weak
        if not isinstance(value, dict):
            if value is not _UNREADABLE:
                problems.append(f"{name} is not a JSON object")
            return {}
        return value

    def lines(name: str) -> list[str]:
        text = files.get(name, b"").decode("utf-8", "replace")
        return [line.strip() for line in text.splitlines() if line.strip()]

    index = load("info/index.json")
    if index is None:
        problems.append("info/index.json is missing")
    raw["index"] = cast("RawIndex", index or {})
    raw["paths"] = _paths_list(load("info/paths.json"), raw, has_files="info/files" in files)
    raw["files"] = lines("info/files")
    raw["has_prefix"] = _has_prefix(lines("info/has_prefix"), problems)
    raw["no_link"] = lines("info/no_link")
    raw["link"] = load("info/link.json") or {}
    raw["run_exports"] = load("info/run_exports.json")
    raw["about"] = load("info/about.json") or {}
    return raw


def _json(name: str, data: bytes, problems: list[str]) -> object:
    """The JSON value in *data*, or ``_UNREADABLE`` (and a problem) when it cannot be read."""
    try:
        value = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{name} is not valid JSON ({exc})")
        return _UNREADABLE
    except RecursionError:
        problems.append(f"{name} is not valid JSON (it is nested too deeply)")
        return _UNREADABLE
    except ValueError:  # int() refuses numbers of more than sys.get_int_max_str_digits()
        problems.append(f"{name} is not valid JSON (a number in it has too many digits)")
        return _UNREADABLE
    if _too_deep(value):
        problems.append(f"{name} is nested more than {_MAX_DEPTH} levels deep")
        return _UNREADABLE
    return value


def _too_deep(value: object) -> bool:
    """Whether *value* nests lists and objects more than ``_MAX_DEPTH`` deep (without recursing)."""
    level = [value]
    for _ in range(_MAX_DEPTH):
        level = [
            child
            for item in level
            if isinstance(item, (list, dict))
            for child in (item.values() if isinstance(item, dict) else item)
        ]
    return any(isinstance(item, (list, dict)) for item in level)


def _paths_list(
    paths_json: dict[str, object] | None, raw: RawInfo, *, has_files: bool
) -> list[RawPath] | None:
    if paths_json is None:
        if not has_files:
            raw["problems"].append("info/paths.json is missing (and so is info/files)")
        return None
    raw["paths_version"] = paths_json.get("paths_version")
    entries = paths_json.get("paths")
    if not isinstance(entries, list):
        if paths_json:  # {} stands for a file that did not parse, already reported
            raw["problems"].append("info/paths.json has no 'paths' list")
        return []
    return [cast("RawPath", e) if isinstance(e, dict) else RawPath() for e in entries]


def _has_prefix(lines: list[str], problems: list[str]) -> list[list[str]]:
    split = [_split_prefix_line(line) for line in lines]
    problems += [
        f"info/has_prefix: cannot read the line {_shown(line)}"
        for line, parts in zip(lines, split, strict=True)
        if not parts
    ]
    return [parts for parts in split if parts]


def _split_prefix_line(line: str) -> list[str]:
    # conda splits has_prefix lines with shlex in non-POSIX mode and strips the quotes. A line
    # without quotes splits the same on shlex's whitespace, some fifty times faster (ncurses
    # lists 664 lines).
    if '"' not in line and "'" not in line:
        return [part for part in _SHLEX_WHITESPACE.split(line) if part]
    try:
        return [part.strip("\"'") for part in shlex.split(line, posix=False)]
    except ValueError:
        return []


_SHLEX_WHITESPACE = re.compile(r"[ \t\r\n]+")


def validate(raw: RawInfo, archive: str) -> PackageInfo:
    """Turn *raw* into a :class:`PackageInfo`, or raise one error listing every problem.

    :param archive: the archive's file name, used in the message.
    :raises MetadataError: ``<archive> has invalid metadata: <problem>; <problem>; ...`` (the
        first 10 problems, then ``... and N more``; all of them are in ``detail``).
    """
    problems = list(raw.get("problems", []))
    record = _record(raw.get("index", RawIndex()), archive, problems)
    raw_paths = raw.get("paths")
    if raw_paths is None:
        paths = _legacy_paths(raw, problems)
    else:
        version = raw.get("paths_version")
        if version not in (None, 1):
            problems.append(f"info/paths.json: paths_version {_shown(version)} is not supported")
        paths = _paths(raw_paths, problems)
    seen: set[str] = set()
    for entry in paths:
        if entry.path in seen:
            problems.append(f"info/paths.json: {_shown(entry.path)} is listed twice")
        seen.add(entry.path)
    noarch_link = raw.get("link", {}).get("noarch")
    entry_points = _strings(noarch_link, "entry_points", "link.json", problems)
    info = PackageInfo(
        record=record,
        paths=paths,
        entry_points=entry_points,
        run_exports=_run_exports(raw.get("run_exports"), problems),
        license_files=tuple(raw.get("license_files", ())),
        **_about(raw.get("about", {})),
    )
    if problems:
        raise MetadataError(
            f"{archive} has invalid metadata: {listing(problems, '; ')}",
            package=archive,
            path="info/",
            detail="\n".join(problems),
        )
    return info


def _record(index: RawIndex, archive: str, problems: list[str]) -> CondaRecord:
    def text(key: str, *, required: bool = True, file_name: bool = False) -> str:
        value = index.get(key)
        if value is None:
            if required:
                problems.append(f"info/index.json: {key!r} is missing")
            return ""
        if not isinstance(value, str):
            problems.append(f"info/index.json: {key!r} must be a string, not {_shown(value)}")
            return ""
        # name, version and build become file and folder names later on.
        if file_name and not safe_name(value):
            problems.append(
                f"info/index.json: {key} {_shown(value)} is not safe in a file name"
                " (empty, or contains '/', '\\', '..' or a control character)"
            )
        return value

    name, version, build = (text(key, file_name=True) for key in ("name", "version", "build"))
    noarch = NoArch.NONE
    try:
        noarch = NoArch.from_raw(index.get("noarch"))
    except ValueError:
        problems.append(f"info/index.json: noarch {_shown(index.get('noarch'))} is not known")
    build_number = index.get("build_number")
    if type(build_number) is not int:
        problems.append(
            f"info/index.json: 'build_number' must be an integer, not {_shown(build_number)}"
        )
        build_number = 0
    timestamp = index.get("timestamp")
    subdir = text("subdir", required=False) or _legacy_subdir(index, noarch)
    if not subdir:
        problems.append("info/index.json: 'subdir' is missing")
    return CondaRecord(
        name=name,
        version=version,
        build=build,
        build_number=build_number,
        subdir=subdir,
        depends=_strings(index, "depends", "index.json", problems),
        constrains=_strings(index, "constrains", "index.json", problems),
        noarch=noarch,
        license=text("license", required=False) or None,
        timestamp=timestamp if type(timestamp) is int else None,
        file_name=archive,
    )


def _legacy_subdir(index: RawIndex, noarch: NoArch) -> str:
    if noarch is not NoArch.NONE:
        return "noarch"
    return _LEGACY_SUBDIRS.get((str(index.get("platform")), str(index.get("arch"))), "")


def _strings(mapping: object, key: str, where: str, problems: list[str]) -> tuple[str, ...]:
    """Read ``mapping[key]`` as a list of strings (absent means empty)."""
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"info/{where}: {key!r} must be a list of strings")
        return ()
    return tuple(value)


def _paths(raw_paths: list[RawPath], problems: list[str]) -> tuple[PathEntry, ...]:
    entries: list[PathEntry] = []
    for number, raw in enumerate(raw_paths):
        where = f"info/paths.json: paths[{number}]"
        path = raw.get("_path")
        if not isinstance(path, str) or not _safe_path(path):
            problems.append(f"{where}: '_path' {_shown(path)} {_path_problem(path)}")
            continue
        where = f"info/paths.json: {_shown(path)}"
        try:
            path_type = PathType(raw.get("path_type"))
        except ValueError:
            problems.append(f"{where}: path_type {_shown(raw.get('path_type'))} is not known")
            continue
        sha256, size = raw.get("sha256"), raw.get("size_in_bytes")
        if sha256 is not None and not (isinstance(sha256, str) and _SHA256_RE.match(sha256)):
            problems.append(f"{where}: sha256 {_shown(sha256)} is not 64 lowercase hex digits")
            sha256 = None
        if size is not None and not (type(size) is int and size >= 0):
            problems.append(f"{where}: size_in_bytes {_shown(size)} is not a byte count")
            size = None
        mode = raw.get("file_mode")
        try:
            file_mode = None if mode is None else FileMode(mode)
        except ValueError:
            problems.append(f"{where}: file_mode {_shown(mode)} is not 'text' or 'binary'")
            file_mode = None
        placeholder = raw.get("prefix_placeholder")
        entries.append(
            PathEntry(
                path=path,
                path_type=path_type,
                sha256=sha256 if isinstance(sha256, str) else None,
                size=size if isinstance(size, int) else None,
                prefix_placeholder=placeholder if isinstance(placeholder, str) else None,
                file_mode=file_mode,
                no_link=raw.get("no_link") is True,
            )
        )
    return tuple(entries)


def _legacy_paths(raw: RawInfo, problems: list[str]) -> tuple[PathEntry, ...]:
    """Entries of an old package that has ``info/files`` (+ ``has_prefix``) instead of paths.json.

    Their path types are unknown until the payload is on disk; ``extract`` corrects them.
    """
    prefixes: dict[str, tuple[str, FileMode]] = {}
    for parts in raw.get("has_prefix", []):
        if len(parts) == 1:
            prefixes[parts[0]] = (LEGACY_PLACEHOLDER, FileMode.TEXT)
        elif len(parts) == 3 and parts[1] in ("text", "binary"):  # noqa: PLR2004 - placeholder mode path
            prefixes[parts[2]] = (parts[0], FileMode(parts[1]))
        else:
            problems.append(f"info/has_prefix: cannot read the line {_shown(' '.join(parts))}")
    no_link = set(raw.get("no_link", []))
    entries = []
    for path in raw.get("files", []):
        if not _safe_path(path):
            problems.append(f"info/files: {_shown(path)} {_path_problem(path)}")
            continue
        placeholder, mode = prefixes.get(path, (None, None))
        entries.append(
            PathEntry(
                path=path,
                path_type=PathType.HARDLINK,
                prefix_placeholder=placeholder,
                file_mode=mode,
                no_link=path in no_link,
            )
        )
    return tuple(entries)


def _path_problem(path: object) -> str:
    """Why a path of paths.json or info/files is refused (see :func:`_safe_path`)."""
    if isinstance(path, str) and has_control(path):
        # a wheel's RECORD and the installers take no control characters in a file name
        return "holds a control character"
    return "is not a relative path inside the package"


def _safe_path(path: str) -> bool:
    return (
        bool(path)
        and not path.startswith("/")
        and "\\" not in path
        and not has_control(path)
        and ".." not in path.split("/")
        and posixpath.normpath(path) == path
        and path.split("/", 1)[0] != "info"
    )


def _run_exports(raw: object, problems: list[str]) -> tuple[str, ...]:
    found = [*_strings(raw, "weak", "run_exports.json", problems)]
    found += _strings(raw, "strong", "run_exports.json", problems)
    return tuple(dict.fromkeys(found))


class _About(TypedDict):
    summary: str | None
    home: str | None
    dev_url: str | None
    doc_url: str | None


def _about(about: dict[str, object]) -> _About:
    """about.json is informational: a field of the wrong type is dropped, not an error."""

    def get(key: str) -> str | None:
        value = about.get(key)
        return value if isinstance(value, str) and value else None

    return _About(
        summary=get("summary"), home=get("home"), dev_url=get("dev_url"), doc_url=get("doc_url")
    )
