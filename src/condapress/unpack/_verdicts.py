"""Remember which files were found to have a digest, by their identity, in the cache folder.

An archive is hashed against its record before it is read: by the plan, by the press, and on
every later run. A verdict lets an unchanged file skip the hash: it names the file's path and its
identity (device, inode, size, mtime and ctime); any write to the file changes its ctime, which no
user can set back, so a changed file is hashed again. Verdicts are written only for files that
matched, and a verdict that cannot be read or written costs a hash, nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import TYPE_CHECKING

from condapress._folders import keep_json
from condapress._paths import identity

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["remember", "remembered", "verdict_file"]


def verdict_file(verdicts: Path, path: Path) -> Path:
    """Where the verdict about *path* is kept in the folder *verdicts*."""
    key = hashlib.sha256(os.fsencode(path.resolve())).hexdigest()[:32]
    return verdicts / f"{key}.json"


def remembered(verdicts: Path, path: Path, algorithm: str, digest: str) -> bool:
    """Whether *path*, unchanged since, was found earlier to have *digest*."""
    try:
        verdict: object = json.loads(verdict_file(verdicts, path).read_bytes())
        now = identity(path.stat())
    except (OSError, ValueError):
        return False
    return verdict == {"path": str(path.resolve()), "identity": now, algorithm: digest}


def remember(verdicts: Path, path: Path, algorithm: str, digest: str, st: os.stat_result) -> None:
    """Remember that *path*, as *st* identifies it, has *digest* (a failure costs a hash)."""
    verdict = {"path": str(path.resolve()), "identity": identity(st), algorithm: digest}
    target = verdict_file(verdicts, path)
    with contextlib.suppress(OSError):
        keep_json(target, verdict)
