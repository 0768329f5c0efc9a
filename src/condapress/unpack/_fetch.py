"""Fetch a conda archive into the cache, verified against its repodata record."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import http.client
import logging
import os
import posixpath
import re
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, TYPE_CHECKING

from condapress._folders import write_hint
from condapress._limits import CHUNK
from condapress._paths import file_url_path, identity, safe_name, stream_digest
from condapress._progress import NULL_REPORTER
from condapress.errors import ArchiveError, ChannelError, WriteError, printable
from condapress.model import DOWNLOAD_TIMEOUT
from condapress.unpack import _verdicts

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from condapress._progress import Reporter
    from condapress.model import CondaRecord

__all__ = [
    "DOWNLOAD_ATTEMPTS",
    "DOWNLOAD_BACKOFF",
    "DOWNLOAD_TIMEOUT",
    "cached_path",
    "fetch",
]

# fetch is part of the unpack stage, and callers configure logging per stage.
logger = logging.getLogger("condapress.unpack")

#: How often :func:`fetch` tries a download, and the pause in seconds before the second try
#: (doubled before each later one).
DOWNLOAD_ATTEMPTS = 4
DOWNLOAD_BACKOFF = 0.5
#: Seconds a connection may stay silent (connecting, or between two reads) before the try is
#: given up, when the deadline is further away.
_TIMEOUT = 60
_PART, _NEW = ".part", ".new"
#: the folder of the cache that remembers which files were found to match their record.
_VERDICTS = "verified"
#: seconds after which an unlocked .new file is surely not about to be locked.
_STALE = 600
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_LOCAL_HINT = "the file is not the one the channel lists; re-index the channel or fetch it again"
_DOWNLOAD_HINT = "the channel served another file than its index lists; try again later"


def fetch(
    record: CondaRecord,
    cache_dir: Path,
    *,
    attempts: int = DOWNLOAD_ATTEMPTS,
    backoff: float = DOWNLOAD_BACKOFF,
    timeout: float = DOWNLOAD_TIMEOUT,
    reporter: Reporter = NULL_REPORTER,
) -> Path:
    """Return a local, verified copy of the archive of *record*.

    ``file://`` URLs and plain paths are used in place. ``http(s)://`` URLs are downloaded to
    ``cache_dir/pkgs/<sha256>-<file name>`` through a temporary file in the same folder (so the
    cache never holds half a file), unless a verified copy is there already; the temporary files
    that killed runs left for the same archive are deleted first. The size, then the sha256 (for
    records without one: the md5) must match the record before the path is returned; a cached
    copy that does not match is deleted and downloaded again. Text from the record is escaped in
    messages.

    :param attempts: tries per download; connection errors, connections that close early or
        stay silent for 60 s, and HTTP 5xx are retried.
    :param backoff: seconds before the second try, doubled before each later one.
    :param timeout: the deadline of a download in seconds, all its tries included; a trickle
        of bytes cannot hold it open longer.
    :param reporter: told when a download (or another try of it) begins, of every chunk of
        bytes as it arrives, and when the archive is in the cache.
    :raises ArchiveError: ``size mismatch for <file>: expected <n> bytes, got <m>``,
        ``sha256 mismatch for <file>: expected <x>, got <y>`` (``md5 mismatch ...``).
    :raises ChannelError: ``cannot fetch <dist>: its record has no URL``,
        ``cannot fetch <dist>: '<url>' is not a valid URL``,
        ``cannot fetch <dist>: '<name>' is not a conda archive file name``,
        ``cannot fetch <dist>: '<x>' is not a sha256 digest``,
        ``cannot fetch <dist>: unsupported URL scheme '<s>' in <url>``,
        ``cannot fetch <file>: <path> does not exist``,
        ``could not download <url>: HTTP <code> <reason>`` (4xx, not retried),
        ``could not download <url>: <reason> (tried <n> times)``, and
        ``could not download <url>: no complete answer within <t> s`` (`` (tried <n> times)``).
    """
    if not record.url:
        raise ChannelError(
            f"cannot fetch {printable(record.dist)}: its record has no URL", package=record.dist
        )
    try:
        parts = urllib.parse.urlsplit(record.url)
    except ValueError as exc:  # "Invalid IPv6 URL"
        message = f"cannot fetch {printable(record.dist)}: {record.url!r} is not a valid URL"
        raise ChannelError(message, package=record.dist) from exc
    file_name = record.file_name or posixpath.basename(urllib.parse.unquote(parts.path))
    _check_record(record, file_name)
    if parts.scheme in ("http", "https"):
        return _download(record, file_name, cache_dir, (attempts, backoff, timeout), reporter)
    if parts.scheme not in ("file", ""):
        raise ChannelError(
            f"cannot fetch {printable(record.dist)}: unsupported URL scheme {parts.scheme!r} in "
            f"{printable(record.url)}",
            hint="use an https://, http:// or file:// URL, or a local path",
            package=record.dist,
        )
    local = Path(file_url_path(parts.path) if parts.scheme else record.url)
    if not local.is_file():
        raise ChannelError(
            f"cannot fetch {printable(file_name)}: {printable(str(local))} does not exist",
            hint="check the local channel folder; re-index it if files were moved",
            package=record.dist,
            path=str(local),
        )
    if problem := _mismatch(record, file_name, local, cache_dir / _VERDICTS):
        raise ArchiveError(problem, hint=_LOCAL_HINT, package=record.dist, path=str(local))
    return local


def _check_record(record: CondaRecord, file_name: str) -> None:
    # The file name and the sha256 name a file in the cache: nothing may lead out of it.
    if not (file_name.endswith((".conda", ".tar.bz2")) and safe_name(file_name)):
        message = (
            f"cannot fetch {printable(record.dist)}: {file_name!r} is not a conda archive file name"
        )
        raise ChannelError(message, package=record.dist)
    if record.sha256 is not None and not _HEX64.match(record.sha256):
        message = f"cannot fetch {printable(record.dist)}: {record.sha256!r} is not a sha256 digest"
        raise ChannelError(message, package=record.dist)


def _mismatch(record: CondaRecord, file_name: str, path: Path, verdicts: Path | None) -> str | None:
    """Compare the file at *path* with the record: the mismatch message, or None.

    With *verdicts* (a folder of the cache), a file found to match is remembered there, by its
    identity, so that the plan, the press and later runs hash an unchanged archive once.
    """
    algorithm = "sha256" if record.sha256 else "md5" if record.md5 else None
    expected = (record.sha256 or record.md5 or "").lower()
    size = path.stat().st_size
    if record.size is not None and size != record.size:
        return f"size mismatch for {file_name}: expected {record.size} bytes, got {size}"
    if algorithm is None:
        logger.warning("%s has no sha256 or md5 in its record: it is used unverified", file_name)
        return None
    if verdicts is not None and _verdicts.remembered(verdicts, path, algorithm, expected):
        return None
    with path.open("rb") as stream:
        before = os.fstat(stream.fileno())
        digest, size = stream_digest(stream, algorithm)
        unchanged = identity(before) == identity(os.fstat(stream.fileno()))
    if record.size is not None and size != record.size:
        return f"size mismatch for {file_name}: expected {record.size} bytes, got {size}"
    if digest != expected:
        return f"{algorithm} mismatch for {file_name}: expected {expected}, got {digest}"
    if verdicts is not None and unchanged:
        _verdicts.remember(verdicts, path, algorithm, digest, before)
    return None


def cached_path(record: CondaRecord, cache_dir: Path, file_name: str | None = None) -> Path:
    """Where a download of *record* is kept: ``cache_dir/pkgs/<sha256>-<file name>``."""
    key = (record.sha256 or record.md5 or "unverified").lower()
    return cache_dir / "pkgs" / f"{key}-{file_name or record.file_name}"


def _download(
    record: CondaRecord,
    file_name: str,
    cache_dir: Path,
    tries: tuple[int, float, float],
    reporter: Reporter,
) -> Path:
    """Download *record* into the cache; *tries* are the attempts, backoff and timeout."""
    attempts, backoff, timeout = tries
    target = cached_path(record, cache_dir, file_name)
    if _cached(record, file_name, target, cache_dir):
        return target
    deadline = time.monotonic() + timeout
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(target.parent, file_name)
        for attempt in range(1, attempts + 1):
            with _part_file(target.parent, file_name) as (part, out):
                reporter.downloading(file_name, record.size)
                received = functools.partial(reporter.received, file_name)
                if _tried(record, (out, received), deadline, (attempt, attempts), timeout):
                    kept = _keep(record, file_name, part, target, cache_dir)
                    reporter.downloaded(file_name)
                    return kept
            time.sleep(min(backoff * 2 ** (attempt - 1), max(deadline - time.monotonic(), 0)))
    except (OSError, _WriteFailed) as exc:  # the cache's file system refused a write
        error = exc.error if isinstance(exc, _WriteFailed) else exc
        raise WriteError(
            f"cannot write {printable(file_name)} into the cache: {error.strerror or error}",
            hint=write_hint(error, cache_dir, "pass --cache-dir with"),
            package=record.dist,
            path=str(cache_dir),
            detail=str(error),
        ) from error
    raise AssertionError  # pragma: no cover - the last attempt returns or raises


def _tried(
    record: CondaRecord,
    out: tuple[IO[bytes], Callable[[int], None]],
    deadline: float,
    attempt: tuple[int, int],
    timeout: float,
) -> bool:
    """Try to download *record* into *out* (a file, and what is told of each chunk's size).

    :returns: whether it worked; False means try again.
    """
    number, attempts = attempt
    try:
        _download_into(record.url, *out, deadline)
    except _Deadline:
        raise _deadline_error(record, timeout, number) from None
    except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
        reason, again = _failure(exc)
        if time.monotonic() >= deadline:  # a silent connection, timed out at the deadline
            raise _deadline_error(record, timeout, number) from exc
        if not again or number == attempts:
            raise _download_error(record, reason, attempts if again else None) from exc
        logger.warning("downloading %s failed (%s); trying again", record.url, reason)
        return False
    return True


def _cached(record: CondaRecord, file_name: str, target: Path, cache_dir: Path) -> bool:
    """Whether *target* is a verified copy; a damaged one is deleted."""
    if not (target.is_file() and (record.sha256 or record.md5)):
        return False
    if (problem := _mismatch(record, file_name, target, cache_dir / _VERDICTS)) is None:
        return True
    logger.warning("the cached %s is damaged (%s): downloading it again", target, problem)
    target.unlink()
    return False


def _keep(record: CondaRecord, file_name: str, part: Path, target: Path, cache_dir: Path) -> Path:
    """Verify a finished download and move it into place, remembering the verdict."""
    if problem := _mismatch(record, file_name, part, None):
        raise ArchiveError(problem, hint=_DOWNLOAD_HINT, package=record.dist, path=record.url)
    part.replace(target)
    if digest := record.sha256 or record.md5:  # _mismatch checked it
        algorithm = "sha256" if record.sha256 else "md5"
        _verdicts.remember(cache_dir / _VERDICTS, target, algorithm, digest, target.stat())
    return target


def _failure(exc: Exception) -> tuple[str, bool]:
    """Why a download failed, and whether another try may help (network or server trouble)."""
    if isinstance(exc, urllib.error.HTTPError):
        exc.close()  # it holds the response and its socket
        return f"HTTP {exc.code} {exc.reason}", exc.code >= 500  # noqa: PLR2004 - 5xx
    return str(getattr(exc, "reason", exc)) or type(exc).__name__, True


@contextlib.contextmanager
def _part_file(folder: Path, file_name: str) -> Iterator[tuple[Path, IO[bytes]]]:
    """A new temporary file in *folder*, locked while it is in use and deleted afterwards."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{file_name}.", suffix=_NEW)
    part = Path(name).with_suffix(_PART)
    try:
        with os.fdopen(fd, "wb") as out:
            # The kernel drops the lock when the process ends, however it ends (SIGKILL too),
            # so a .part file without it is one that no run is writing any more. It gets its
            # .part name only once it is locked.
            fcntl.flock(out, fcntl.LOCK_EX)
            Path(name).replace(part)
            yield part, out
    finally:
        Path(name).unlink(missing_ok=True)
        part.unlink(missing_ok=True)  # gone already once it has become the cached file


class _Deadline(Exception):
    pass


class _WriteFailed(Exception):  # an OSError of the cache, not of the network
    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


def _download_into(
    url: str, out: IO[bytes], received: Callable[[int], None], deadline: float
) -> None:
    """Download *url* into *out*, flushed to disk, by the *deadline* (``time.monotonic()``).

    *received* is told the size of every chunk written.
    """
    with urllib.request.urlopen(url, timeout=_wait(deadline)) as response:  # noqa: S310 - http(s) only
        sock = _socket_of(response)
        while True:
            wait = _wait(deadline)
            if sock is not None:
                sock.settimeout(wait)
            # read1 returns what has arrived: a trickle of bytes cannot hold one read open.
            chunk = response.read1(CHUNK)
            if not chunk:
                break
            _written(out.write, chunk)
            received(len(chunk))
        if response.length:  # http.client does not complain when the body ends early
            message = f"the connection closed with {response.length} bytes still to come"
            raise ConnectionError(message)
    _written(out.flush)
    _written(os.fsync, out.fileno())


def _written(write: Callable[..., object], *args: object) -> None:
    """Call *write*; a failure is the cache's (a full disk), never the network's."""
    try:
        write(*args)
    except OSError as exc:
        raise _WriteFailed(exc) from exc


def _wait(deadline: float) -> float:
    """How long the next connect or read may wait; raises _Deadline once the time is up."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Deadline
    return min(_TIMEOUT, remaining)


def _socket_of(response: object) -> socket.socket | None:
    # http.client reads the response through a buffered reader around the connection's
    # socket. Setting that socket's timeout before each read is what lets the deadline cut a
    # silent read short; where it cannot be found, reads wait 60 s at most, as urlopen's.
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _remove_abandoned(folder: Path, file_name: str) -> None:
    """Delete the temporary files of *file_name* that killed runs left in *folder*."""
    for path in folder.iterdir():
        if not (path.name.startswith(f".{file_name}.") and path.name.endswith((_PART, _NEW))):
            continue
        with contextlib.suppress(OSError), path.open("rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: in use
            # A .new file may belong to a run that is about to lock it: only old ones go.
            if path.suffix == _PART or os.fstat(handle.fileno()).st_mtime < time.time() - _STALE:
                path.unlink()


def _deadline_error(record: CondaRecord, timeout: float, attempts: int) -> ChannelError:
    tried = f" (tried {attempts} times)" if attempts > 1 else ""
    return ChannelError(
        f"could not download {printable(record.url)}: no complete answer within {timeout:g} s"
        f"{tried}",
        hint="check your network connection and the channel URL; a slow channel or a large"
        f" archive needs a larger --timeout (now {timeout:g} s)",
        package=record.dist,
        path=record.url,
    )


def _download_error(record: CondaRecord, reason: str, attempts: int | None) -> ChannelError:
    tried = f" (tried {attempts} times)" if attempts else ""
    return ChannelError(
        f"could not download {printable(record.url)}: {printable(reason)}{tried}",
        hint="check your network connection and the channel URL, then run again",
        package=record.dist,
        path=record.url,
    )
