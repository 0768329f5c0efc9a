"""Remember the solves of requests on local channels, by the identity of the repodata they read.

A solve whose channels are all folders on this machine depends on the request, the solver and
the repodata files in those folders, nothing else. Such a solve is kept in the cache folder,
``solves/<request>.json``: the request, the solver's version, the identity (device, inode, size,
mtime, ctime) of each repodata file of each channel's two platforms (or that it is absent), and
the records. A later solve of the same request reads the records when every identity is still
the same, so a warm ``condapress plan`` does without the solve and the event loop it runs on.
Any write to a repodata file changes its ctime, which no user can set back: a channel indexed
again is solved again.

A channel on a server is never remembered: whether its repodata changed is py-rattler's to find
out over the network. Neither is a spec that names its own channel (``conda-forge::zstd``), nor a
failed solve. An entry that cannot be read or does not match costs a solve, and one that cannot be
written costs nothing; each request keeps one entry, the last one written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast
from urllib.parse import urlsplit

from condapress._folders import keep_json
from condapress._paths import file_url_path, identity
from condapress.model import CondaRecord, NoArch
from condapress.solve._rattler import channel_url

if TYPE_CHECKING:
    from condapress.model import SolveRequest

__all__ = ["Remembering"]

logger = logging.getLogger(__name__)

#: What py-rattler reads of a local channel's platform folder (plain, compressed or sharded
#: repodata); each one's identity, or its absence, is part of an entry's key.
REPODATA_FILES = (
    "repodata.json",
    "repodata.json.zst",
    "repodata.json.bz2",
    "repodata_shards.msgpack.zst",
)
#: Raised when the layout of an entry changes: entries of another layout are not read.
_LAYOUT = 1
_FIELDS = tuple(field.name for field in dataclasses.fields(CondaRecord))
_TEXT = {"name", "version", "build", "subdir", "url", "channel", "file_name"}
_OPTIONAL_TEXT = {"license", "sha256", "md5"}
_OPTIONAL_NUMBER = {"size", "timestamp"}


class Backend(Protocol):
    """The solver whose solves are remembered (py-rattler's)."""

    @property
    def version(self) -> str:
        """The solver and its version: a solve by another one is not reused."""

    def solve(self, request: SolveRequest) -> tuple[CondaRecord, ...]:
        """The records of one solution of *request*."""


class Remembering:
    """*backend*, with the solves of requests on local channels kept in *cache_dir*."""

    def __init__(self, backend: Backend, cache_dir: Path) -> None:
        self._backend = backend
        self._folder = cache_dir / "solves"

    def solve(self, request: SolveRequest) -> tuple[CondaRecord, ...]:
        """The remembered records of *request* if its channels are unchanged, else a solve."""
        folders = _local_folders(request)
        if folders is None:
            return self._backend.solve(request)
        asked = {
            "layout": _LAYOUT,
            "specs": list(request.specs),
            "channels": [str(folder) for folder in folders],
            "python": request.python,
            "subdir": request.subdir,
            "glibc": request.glibc,
            "macos": request.macos,
        }
        name = hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()[:32]
        entry = self._folder / f"{name}.json"
        key = {
            **asked,
            "solver": self._backend.version,
            "repodata": _repodata_identities(folders, request.subdir),
        }
        if (records := _read(entry, key)) is not None:
            logger.debug("solve of %s read from %s", " ".join(request.specs), entry)
            return records
        records = self._backend.solve(request)
        try:  # a cache that refuses the entry costs nothing
            keep_json(entry, {"key": key, "records": [_to_json(record) for record in records]})
        except OSError as exc:
            logger.debug("the solve is not remembered: %s", exc)
        return records


def _local_folders(request: SolveRequest) -> tuple[Path, ...] | None:
    """The folder of each channel of *request*, or None when one is not local."""
    if any("::" in spec for spec in request.specs):
        return None
    folders = []
    for channel in request.channels:
        url = urlsplit(channel_url(channel))
        if url.scheme.lower() != "file" or url.netloc not in ("", "localhost"):
            return None
        folders.append(Path(file_url_path(url.path)))
    return tuple(folders)


def _repodata_identities(folders: tuple[Path, ...], subdir: str) -> list[list[object]]:
    """``[folder, platform, file, identity or None]`` for each repodata file the solve may read."""
    found: list[list[object]] = []
    for folder in folders:
        for platform in (subdir, "noarch"):
            for file in REPODATA_FILES:
                try:
                    seen: list[int] | None = identity((folder / platform / file).stat())
                except OSError:
                    seen = None
                found.append([str(folder), platform, file, seen])
    return found


def _read(entry: Path, key: dict[str, object]) -> tuple[CondaRecord, ...] | None:
    """The records of *entry* if it was written for *key*; None if not, or if it is damaged."""
    try:
        kept = json.loads(entry.read_bytes())
        if kept["key"] != key:
            return None
        return tuple(_from_json(record) for record in kept["records"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        logger.debug("solving again: %s cannot be read (%s)", entry, exc)
        return None


def _to_json(record: CondaRecord) -> dict[str, object]:
    fields: dict[str, object] = {name: getattr(record, name) for name in _FIELDS}
    fields["depends"] = list(record.depends)
    fields["constrains"] = list(record.constrains)
    fields["noarch"] = record.noarch.value
    return fields


def _from_json(fields: dict[str, object]) -> CondaRecord:
    """The record *fields* describe.

    :raises ValueError: a field is missing, unknown or of the wrong type.
    """
    if sorted(fields) != sorted(_FIELDS):
        raise ValueError(f"fields {sorted(fields)}")
    for name, value in fields.items():
        if not _well_typed(name, value):
            raise ValueError(f"{name} = {value!r}")
    depends = cast("list[str]", fields.pop("depends"))
    constrains = cast("list[str]", fields.pop("constrains"))
    noarch = NoArch(fields.pop("noarch"))
    return CondaRecord(
        depends=tuple(depends),
        constrains=tuple(constrains),
        noarch=noarch,
        **fields,  # type: ignore[arg-type]
    )


def _well_typed(name: str, value: object) -> bool:
    if name in _TEXT:
        return isinstance(value, str)
    if name in _OPTIONAL_TEXT:
        return value is None or isinstance(value, str)
    if name in _OPTIONAL_NUMBER or name == "build_number":
        is_number = isinstance(value, int) and not isinstance(value, bool)
        return is_number or (value is None and name != "build_number")
    if name in ("depends", "constrains"):
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return name == "noarch" and isinstance(value, str)
