"""How much condapress reads, holds and unpacks at once: every size limit, with its reason."""

from __future__ import annotations

__all__ = ["CHUNK", "MAX_RATIO", "MIN_UNPACKED", "unpack_limit"]

#: Bytes read or written at once when files are copied, hashed, downloaded or compressed.
CHUNK = 1 << 20
#: A decompression bomb (a small archive of zeros that unpacks to terabytes) is refused: an
#: archive may unpack to MAX_RATIO times its own size, or to MIN_UNPACKED bytes if that is
#: more. Real packages unpack to 2 to 10 times their size; zstd and bzip2 reach thousands only
#: on data made to compress.
MAX_RATIO = 1000
MIN_UNPACKED = 64 << 20


def unpack_limit(archive_size: int) -> int:
    """How many bytes an archive of *archive_size* bytes may unpack to."""
    return max(MIN_UNPACKED, MAX_RATIO * archive_size)
