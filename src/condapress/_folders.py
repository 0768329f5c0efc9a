"""Where condapress writes, and what it says when the file system refuses a write.

The output folder (or ``plan --graph``'s file) is checked before any work; wheels land in it all
or none. A work folder (in the temporary folder, or hidden in the output folder) holds a marker
file that the run keeps locked with ``flock`` for as long as it works there. The kernel drops the
lock when the process ends, however it ends (SIGKILL too), so a later run deletes a folder only
when it holds that marker, belongs to the user and its lock can be taken: never a live run's
folder, and never a folder that condapress did not make.

A write the file system refuses (no space, a quota or file size limit, no permission) is not a
damaged archive: :func:`write_hint` says what to free or which folder to choose.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from condapress.errors import OutputError, WriteError, printable

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    "check_output_dir",
    "check_output_file",
    "default_cache_dir",
    "is_refused_write",
    "keep_json",
    "land",
    "land_at",
    "on_the_file_system_of",
    "pending_folder",
    "work_folder",
    "write_hint",
]

logger = logging.getLogger(__name__)

#: The marker file of a work folder, and what it says.
MARKER = ".condapress-work"
_MARKER_TEXT = b"condapress work folder: deleted when no process holds a lock on this file\n"
#: Name prefixes of the work folders: in the temporary folder, and hidden in the output folder.
WORK_PREFIX, PENDING_PREFIX = "condapress-", ".condapress-"
_OUTPUT_HINT = "choose another output folder with -o"
_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
_DENIED = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
#: What the file system answers a write it refuses (EFBIG: a file size limit, ``ulimit -f``).
_REFUSED = _SPACE | _DENIED | {errno.EFBIG}


def check_output_dir(path: Path) -> None:
    """Refuse an output folder that cannot take the wheels, before any work is done.

    *path* may not exist yet: its nearest existing parent must then be a folder it can be made in.

    :raises OutputError: ``cannot write wheels to <path>: it is not a folder`` (also ``<parent>
        is not a folder``, ``permission denied``, ``read-only file system``).
    """
    existing = path
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if problem := _unwritable(existing, shown=None if existing == path else existing):
        raise OutputError(
            f"cannot write wheels to {printable(str(path))}: {problem}",
            hint=_OUTPUT_HINT,
            path=str(path),
        )


def check_output_file(path: Path) -> None:
    """Refuse a file to write (``plan --graph``) whose folder does not exist or is not writable.

    :raises OutputError: ``cannot write <path>: it is a folder`` (also ``no such folder:
        <parent>``, ``<parent> is not a folder``, ``permission denied``, ...).
    """
    folder = path.parent
    if path.is_dir():
        problem: str | None = "it is a folder"
    elif not os.path.lexists(folder):
        problem = f"no such folder: {printable(str(folder))}"
    else:
        problem = _unwritable(folder, shown=folder)
    if problem:
        raise OutputError(
            f"cannot write {printable(str(path))}: {problem}",
            hint="choose a folder you can write to",
            path=str(path),
        )


def _unwritable(folder: Path, *, shown: Path | None) -> str | None:
    """Why no file can be made in the existing *folder*, naming it as *shown*; None if one can."""
    where = f" in {printable(str(shown))}" if shown else ""
    if not folder.is_dir():
        return f"{printable(str(shown))} is not a folder" if shown else "it is not a folder"
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    with contextlib.suppress(OSError):
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"read-only file system{where}"
    return f"permission denied{where}"


@contextlib.contextmanager
def pending_folder(output_dir: Path) -> Iterator[Path]:
    """A work folder hidden in *output_dir* (made if needed), where the wheels wait to land.

    Output folders this made are removed again on the way out if nothing landed in them. A
    write the file system refuses in it is reported as a refusal of *output_dir*, the folder
    the user chose.
    """
    made = [p for p in (output_dir, *output_dir.parents) if not os.path.lexists(p)]
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_write("cannot write wheels to", output_dir, exc, _OUTPUT_HINT) from exc
    try:
        with work_folder(
            output_dir, PENDING_PREFIX, error="cannot write wheels to", hint=_OUTPUT_HINT
        ) as pending:
            yield pending
    except WriteError as exc:
        if isinstance(exc.__cause__, OSError):
            exc.hint = write_hint(exc.__cause__, output_dir, "pass -o with")
        raise
    finally:
        for folder in made:  # the deepest first; one that holds anything stays, with its parents
            try:
                folder.rmdir()
            except OSError:
                break


@contextlib.contextmanager
def work_folder(
    parent: Path | None = None,
    prefix: str = WORK_PREFIX,
    *,
    error: str = "cannot make a work folder in",
    hint: str = "set TMPDIR to a folder with room that you can write to",
) -> Iterator[Path]:
    """A new folder in *parent* (default: the temporary folder), deleted on the way out.

    The folders that killed runs left in *parent* under the same *prefix* are deleted first.

    :param error: how the error when no folder can be made in *parent* begins; *hint*, its hint.
    """
    parent = Path(tempfile.gettempdir()) if parent is None else parent
    reclaim(parent, prefix)
    try:
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    except OSError as exc:
        raise _cannot_write(error, parent, exc, hint) from exc
    lock = _claim(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # with the lock held: nobody else deletes it
        if lock is not None:
            os.close(lock)


def _claim(folder: Path) -> int | None:
    """Mark *folder* as a live run's work folder: its marker file, locked. The lock's descriptor."""
    # The marker gets its name only once it is locked, so no run ever sees it unlocked.
    new = folder / f"{MARKER}.new"
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, _MARKER_TEXT)
        new.replace(folder / MARKER)
    except OSError as exc:  # a file system without locks: the folder is never reclaimed
        logger.debug("cannot lock %s (%s): a killed run's copy will stay", folder, exc)
        os.close(fd)
        return None
    return fd


def reclaim(parent: Path, prefix: str) -> None:
    """Delete the work folders that runs killed while working left in *parent*.

    Only folders named *prefix*... that are folders (not links) of this user, hold the marker
    file with its text, and whose marker no live run holds locked.
    """
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        with contextlib.suppress(OSError):  # not a work folder, in use, or gone meanwhile
            if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != os.getuid():
                continue
            fd = os.open(Path(entry.path, MARKER), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                if os.read(fd, len(_MARKER_TEXT) + 1) != _MARKER_TEXT:
                    continue
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: a live run's
                logger.info("removing %s, left by a run that was killed", entry.path)
                shutil.rmtree(entry.path, ignore_errors=True)
            finally:
                os.close(fd)


def distinct(files: Sequence[Path]) -> list[Path]:
    """*files* without the later copies of one file name, which must hold the same bytes.

    :raises OutputError: two of *files* share a name and differ.
    """
    first: dict[str, Path] = {}
    for file in files:
        seen = first.setdefault(file.name, file)
        if seen is not file and seen.read_bytes() != file.read_bytes():
            raise OutputError(
                f"two presses make different wheels named {printable(file.name)}; no wheel was "
                "written",
                hint="their closures hold different builds of one version: press them apart, "
                "or pin the build in the specs",
                path=str(file),
            )
    return list(first.values())


def land(files: Sequence[Path], output_dir: Path, spare: Path) -> tuple[Path, ...]:
    """Move *files* into *output_dir*: all of them, or none (see :func:`land_at`).

    :returns: the new paths, in the order of *files*.
    """
    return land_at([(file, output_dir / file.name) for file in files], spare)


def land_at(moves: Sequence[tuple[Path, Path]], spare: Path) -> tuple[Path, ...]:
    """Move each file to its destination (``(file, destination)`` pairs): all, or none.

    Every destination is checked before any file moves: a folder of the same name stops the
    landing. A file already there is replaced; it waits in *spare* (a folder on the same file
    system, deleted afterwards by the caller) and is put back if a later move fails.

    :returns: the destinations, in the order of *moves*.
    :raises OutputError: ``cannot write <path>: a folder of that name is in the way``,
        ``cannot move <file> into <folder>: <reason>``.
    """
    for _, final in moves:
        if final.is_dir() and not final.is_symlink():
            raise OutputError(
                f"cannot write {printable(str(final))}: a folder of that name is in the way",
                hint="move or rename that folder, or choose another output folder with -o",
                path=str(final),
            )
    landed: list[tuple[Path, Path | None]] = []  # (new file, the file it replaced, kept aside)
    for index, (file, final) in enumerate(moves):
        kept = spare / f"replaced-{index}" if os.path.lexists(final) else None
        try:
            if kept is not None:
                final.replace(kept)
            try:
                file.replace(final)
            except OSError:
                if kept is not None:
                    kept.replace(final)
                raise
        except OSError as exc:
            _take_back(landed)
            raise OutputError(
                f"cannot move {printable(file.name)} into {printable(str(final.parent))}: "
                f"{(exc.strerror or str(exc)).lower()}; no wheel was written",
                hint="check the output folder and run again",
                path=str(final),
            ) from exc
        landed.append((final, kept))
    return tuple(final for _, final in moves)


def _take_back(landed: Sequence[tuple[Path, Path | None]]) -> None:
    """Undo :func:`land`'s moves: remove each new file, or put back the one it replaced."""
    for final, kept in reversed(landed):
        with contextlib.suppress(OSError):
            if kept is None:
                final.unlink()
            else:
                kept.replace(final)


def _cannot_write(error: str, folder: Path, exc: OSError, hint: str) -> OutputError:
    reasons = {errno.EEXIST: "it is not a folder", errno.ENOTDIR: "a part of it is not a folder"}
    reason = reasons.get(exc.errno or 0, (exc.strerror or str(exc)).lower())
    return OutputError(f"{error} {printable(str(folder))}: {reason}", hint=hint, path=str(folder))


def keep_json(path: Path, document: object) -> None:
    """Write *document* to *path* as JSON, whole or not at all (a temporary file beside it).

    For the cache's small records, the download verdicts and the remembered solves.

    :raises OSError: the file system refused the write; no temporary file is left.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, sort_keys=True)
        Path(name).replace(path)
    finally:
        Path(name).unlink(missing_ok=True)


def default_cache_dir() -> Path:
    """Where repodata and packages are cached unless ``--cache-dir`` says otherwise."""
    from platformdirs import user_cache_path  # noqa: PLC0415 - only needed when no dir is given

    return user_cache_path("condapress", appauthor=False)


def is_refused_write(exc: BaseException) -> bool:
    """Whether *exc* is the file system refusing to store something (not damaged input)."""
    return isinstance(exc, OSError) and exc.errno in _REFUSED


def write_hint(exc: OSError, folder: Path, elsewhere: str) -> str:
    """The hint for *exc*, raised while writing into *folder*.

    :param elsewhere: how to choose another folder, completed by "a folder ...": for example
        ``set TMPDIR to`` or ``pass --cache-dir with``.
    """
    if exc.errno in _SPACE:
        return f"free some space in {folder}, or {elsewhere} a folder on a larger file system"
    if exc.errno == errno.EFBIG:
        return (
            f"raise the file size limit (ulimit -f), or {elsewhere} a folder on a file system"
            " that takes larger files"
        )
    if exc.errno in _DENIED:
        return f"{folder} cannot be written to; {elsewhere} a folder you can write to"
    return f"check {folder} and the disk it is on, or {elsewhere} another folder"


def on_the_file_system_of(path: Path, folder: Path) -> bool:
    """Whether *path*, or its nearest existing parent, is on the file system of *folder*."""
    existing = path.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        return existing.stat().st_dev == folder.stat().st_dev
    except OSError:
        return False
