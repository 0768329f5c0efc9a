"""Fetch a conda archive into the cache, verified against its repodata record."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import posixpath
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from condapress import _conda_meta
from condapress.errors import ArchiveError, ChannelError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from condapress.model import CondaRecord

__all__ = ["DOWNLOAD_ATTEMPTS", "DOWNLOAD_BACKOFF", "fetch", "file_digest"]

# fetch is part of the unpack stage, and callers configure logging per stage.
logger = logging.getLogger("condapress.unpack")

#: How often :func:`fetch` tries a download, and the pause in seconds before the second try
#: (doubled before each later one).
DOWNLOAD_ATTEMPTS = 4
DOWNLOAD_BACKOFF = 0.5
_TIMEOUT = 60
_CHUNK = 1 << 20
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_LOCAL_HINT = "the file is not the one the channel lists; re-index the channel or fetch it again"
_DOWNLOAD_HINT = "the channel served another file than its index lists; try again later"


def fetch(
    record: CondaRecord,
    cache_dir: Path,
    *,
    attempts: int = DOWNLOAD_ATTEMPTS,
    backoff: float = DOWNLOAD_BACKOFF,
) -> Path:
    """Return a local, verified copy of the archive of *record*.

    ``file://`` URLs and plain paths are used in place. ``http(s)://`` URLs are downloaded to
    ``cache_dir/pkgs/<sha256>-<file name>`` through a temporary file in the same folder (so the
    cache never holds half a file), unless a verified copy is there already. The size, then the
    sha256 (for records without one: the md5) must match the record before the path is
    returned; a cached copy that does not match is deleted and downloaded again.

    :param attempts: tries per download; connection errors and HTTP 5xx are retried.
    :param backoff: seconds before the second try, doubled before each later one.
    :raises ArchiveError: ``size mismatch for <file>: expected <n> bytes, got <m>``,
        ``sha256 mismatch for <file>: expected <x>, got <y>`` (``md5 mismatch ...``).
    :raises ChannelError: ``cannot fetch <dist>: its record has no URL``,
        ``cannot fetch <dist>: '<name>' is not a conda archive file name``,
        ``cannot fetch <dist>: '<x>' is not a sha256 digest``,
        ``cannot fetch <dist>: unsupported URL scheme '<s>' in <url>``,
        ``cannot fetch <file>: <path> does not exist``,
        ``could not download <url>: HTTP <code> <reason>`` (4xx, not retried), and
        ``could not download <url>: <reason> (tried <n> times)``.
    """
    if not record.url:
        raise ChannelError(
            f"cannot fetch {record.dist}: its record has no URL", package=record.dist
        )
    parts = urllib.parse.urlsplit(record.url)
    file_name = record.file_name or posixpath.basename(urllib.parse.unquote(parts.path))
    _check_record(record, file_name)
    if parts.scheme in ("http", "https"):
        return _download(record, file_name, cache_dir / "pkgs", attempts, backoff)
    if parts.scheme not in ("file", ""):
        raise ChannelError(
            f"cannot fetch {record.dist}: unsupported URL scheme {parts.scheme!r} in {record.url}",
            hint="use an https://, http:// or file:// URL, or a local path",
            package=record.dist,
        )
    local = Path(urllib.request.url2pathname(parts.path) if parts.scheme else record.url)
    if not local.is_file():
        raise ChannelError(
            f"cannot fetch {file_name}: {local} does not exist",
            hint="check the local channel folder; re-index it if files were moved",
            package=record.dist,
            path=str(local),
        )
    if problem := _mismatch(record, file_name, local):
        raise ArchiveError(problem, hint=_LOCAL_HINT, package=record.dist, path=str(local))
    return local


def _check_record(record: CondaRecord, file_name: str) -> None:
    # The file name and the sha256 name a file in the cache: nothing may lead out of it.
    if not (file_name.endswith((".conda", ".tar.bz2")) and _conda_meta.safe_name(file_name)):
        message = f"cannot fetch {record.dist}: {file_name!r} is not a conda archive file name"
        raise ChannelError(message, package=record.dist)
    if record.sha256 is not None and not _HEX64.match(record.sha256):
        message = f"cannot fetch {record.dist}: {record.sha256!r} is not a sha256 digest"
        raise ChannelError(message, package=record.dist)


def _mismatch(record: CondaRecord, file_name: str, path: Path) -> str | None:
    """Compare the file at *path* with the record: the mismatch message, or None."""
    algorithm = "sha256" if record.sha256 else "md5" if record.md5 else None
    digest, size = file_digest(path, algorithm or "sha256")
    if record.size is not None and size != record.size:
        return f"size mismatch for {file_name}: expected {record.size} bytes, got {size}"
    expected = (record.sha256 or record.md5 or "").lower()
    if algorithm is None:
        logger.warning("%s has no sha256 or md5 in its record: it is used unverified", file_name)
    elif digest != expected:
        return f"{algorithm} mismatch for {file_name}: expected {expected}, got {digest}"
    return None


def _download(
    record: CondaRecord, file_name: str, folder: Path, attempts: int, backoff: float
) -> Path:
    key = (record.sha256 or record.md5 or "unverified").lower()
    target = folder / f"{key}-{file_name}"
    if target.is_file() and key != "unverified":
        if (problem := _mismatch(record, file_name, target)) is None:
            return target
        logger.warning("the cached %s is damaged (%s): downloading it again", target, problem)
        target.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, attempts + 1):
        try:
            part = _download_once(record.url, folder, file_name)
        except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
            reason, again = _failure(exc)
            if not again or attempt == attempts:
                raise _download_error(record, reason, attempts if again else None) from exc
            logger.warning("downloading %s failed (%s); trying again", record.url, reason)
            time.sleep(backoff * 2 ** (attempt - 1))
            continue
        if problem := _mismatch(record, file_name, part):
            part.unlink()
            raise ArchiveError(problem, hint=_DOWNLOAD_HINT, package=record.dist, path=record.url)
        return part.replace(target)
    raise AssertionError  # pragma: no cover - the last attempt returns or raises


def _failure(exc: Exception) -> tuple[str, bool]:
    """Why a download failed, and whether another try may help (network or server trouble)."""
    if isinstance(exc, urllib.error.HTTPError):
        exc.close()  # it holds the response and its socket
        return f"HTTP {exc.code} {exc.reason}", exc.code >= 500  # noqa: PLR2004 - 5xx
    return str(getattr(exc, "reason", exc)) or type(exc).__name__, True


def _download_once(url: str, folder: Path, file_name: str) -> Path:
    """Download *url* into a new temporary file in *folder*, flushed to disk; delete on failure."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{file_name}.", suffix=".part")
    part = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT) as response:  # noqa: S310 - http(s) only
            while chunk := response.read(_CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        part.unlink()
        raise
    return part


def _download_error(record: CondaRecord, reason: str, attempts: int | None) -> ChannelError:
    tried = f" (tried {attempts} times)" if attempts else ""
    return ChannelError(
        f"could not download {record.url}: {reason}{tried}",
        hint="check your network connection and the channel URL, then run again",
        package=record.dist,
        path=record.url,
    )


def file_digest(path: Path, algorithm: str = "sha256") -> tuple[str, int]:
    """The hex digest of the file at *path*, and its size."""
    with path.open("rb") as stream:
        return _hash(algorithm, iter(lambda: stream.read(_CHUNK), b""))


def _hash(algorithm: str, chunks: Iterable[bytes]) -> tuple[str, int]:
    digest = hashlib.new(algorithm)
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size
