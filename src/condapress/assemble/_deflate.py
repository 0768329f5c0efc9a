"""Deflate one stream on several threads, in fixed blocks, with the same bytes for any count.

This is pigz's scheme: the input is cut into blocks of :data:`BLOCK` bytes, and each block is
compressed on its own, primed with the 32 KiB of input before it (so back-references still reach
across the boundary) and ended with a sync flush, which leaves the output byte-aligned; the last
block ends the stream. The blocks' outputs, concatenated, are one valid raw deflate stream. The
cut points depend only on the input, never on the number of threads, so the output is
reproducible. zlib releases the GIL while it compresses, so threads use every core.
"""

from __future__ import annotations

import zlib
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from concurrent.futures import Executor, Future

__all__ = ["BLOCK", "deflate"]

#: Bytes of input per block: large enough that the priming and the flush markers cost little
#: (about 0.1 % of the output), small enough to spread one large library over every core.
BLOCK = 1 << 20
_WINDOW = 1 << 15  # deflate's window: what a block may refer back to


def _compress(block: bytes, primer: bytes, level: int, *, last: bool) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, primer)
    return compressor.compress(block) + compressor.flush(
        zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH
    )


def _blocks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Cut the concatenated *chunks* into blocks of exactly BLOCK bytes (the last may be short)."""
    pending = bytearray()
    for chunk in chunks:
        pending += chunk
        while len(pending) >= BLOCK:
            yield bytes(pending[:BLOCK])
            del pending[:BLOCK]
    yield bytes(pending)


def deflate(
    chunks: Iterable[bytes], level: int, pool: Executor, *, ahead: int = 4
) -> Iterator[tuple[bytes, bytes]]:
    """Yield ``(input block, its compressed bytes)`` in order.

    Up to *ahead* blocks are compressed at once on *pool*: memory stays at a few blocks,
    whatever the size of the input.
    """
    in_flight: deque[tuple[bytes, Future[bytes]]] = deque()
    primer = b""
    blocks = _blocks(chunks)
    current = next(blocks)
    following = next(blocks, None)
    if following is None:  # one block (most members): no thread could share it, none waits
        yield current, _compress(current, primer, level, last=True)
        return
    while following is not None:
        in_flight.append((current, pool.submit(_compress, current, primer, level, last=False)))
        primer = (primer + current)[-_WINDOW:]
        while len(in_flight) >= ahead:
            block, future = in_flight.popleft()
            yield block, future.result()
        current, following = following, next(blocks, None)
    in_flight.append((current, pool.submit(_compress, current, primer, level, last=True)))
    while in_flight:
        block, future = in_flight.popleft()
        yield block, future.result()
