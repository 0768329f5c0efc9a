"""Deflate streams on several threads, in fixed blocks, with the same bytes for any count.

This is pigz's scheme: the input is cut into blocks of :data:`BLOCK` bytes, and each block is
compressed on its own, primed with the 32 KiB of input before it (so back-references still reach
across the boundary) and ended with a sync flush, which leaves the output byte-aligned; the last
block ends the stream. The blocks' outputs, concatenated, are one valid raw deflate stream. The
cut points depend only on the input, never on the number of threads, so the output is
reproducible. zlib releases the GIL while it compresses, so threads use every core. The
members of a wheel are such streams, one after the other (:func:`deflate_many`): a small member
is one block, deflated on the pool while the members before it are written.
"""

from __future__ import annotations

import zlib
from collections import deque
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from concurrent.futures import Executor

__all__ = ["BLOCK", "INLINE", "SMALL_PER_BLOCK", "deflate", "deflate_many"]

#: Bytes of input per block: large enough that the priming and the flush markers cost little
#: (about 0.1 % of the output), small enough to spread one large library over every core.
BLOCK = 1 << 20
#: Short blocks (small files) that may be in flight per full block of *ahead*: a small file
#: costs the caller more time per byte than a large one, so more of them must be under way to
#: keep every core deflating (8 halves the time of a wheel's small files against 1).
SMALL_PER_BLOCK = 8
#: Blocks shorter than this are compressed on the caller's thread, in order: handing one to
#: the pool costs more than compressing it (ncurses' 3,000 terminfo files, most under 4 KiB,
#: took 1.7 s through the pool, 1.4 s all on the caller's thread, 1.1 s split at 16 to 64 KiB).
INLINE = 64 << 10
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
    """Yield ``(input block, its compressed bytes)`` in order: one stream's :func:`deflate_many`."""
    for _, block, data in deflate_many([chunks], level, pool, ahead=ahead):
        yield block, data


def deflate_many(
    streams: Iterable[Iterable[bytes]], level: int, pool: Executor, *, ahead: int = 4
) -> Iterator[tuple[int, bytes, bytes]]:
    """Yield ``(stream's index, input block, its compressed bytes)``, stream after stream.

    Each stream is deflated on its own, as :func:`deflate` would; every stream yields at least
    one block (an empty stream, one empty block). Blocks are compressed on *pool* ahead of the
    caller, across streams, up to *ahead* full blocks' worth of input (and at most
    :data:`SMALL_PER_BLOCK` blocks per full block): the small files of a wheel, one short block
    each, are deflated on every core while the caller writes the ones before them, and memory
    stays at a few blocks. A block under :data:`INLINE` bytes is compressed where it is cut.
    """
    in_flight: deque[tuple[int, bytes, Future[bytes]]] = deque()
    held, budget, most = 0, ahead * BLOCK, ahead * SMALL_PER_BLOCK
    for index, block, primer, last in _cut(streams):
        in_flight.append((index, block, _start(pool, block, primer, level, last=last)))
        held += len(block)
        while held >= budget or len(in_flight) >= most:
            done = _done(in_flight.popleft())
            held -= len(done[1])
            yield done
    while in_flight:
        yield _done(in_flight.popleft())


def _start(pool: Executor, block: bytes, primer: bytes, level: int, *, last: bool) -> Future[bytes]:
    """*block* compressed on *pool*; one shorter than :data:`INLINE`, here and now."""
    if len(block) >= INLINE:
        return pool.submit(_compress, block, primer, level, last=last)
    done: Future[bytes] = Future()
    done.set_result(_compress(block, primer, level, last=last))
    return done


def _done(flight: tuple[int, bytes, Future[bytes]]) -> tuple[int, bytes, bytes]:
    index, block, future = flight
    return index, block, future.result()


def _cut(streams: Iterable[Iterable[bytes]]) -> Iterator[tuple[int, bytes, bytes, bool]]:
    """``(index, block, primer, last)`` for every block of every stream, in order."""
    for index, chunks in enumerate(streams):
        blocks = _blocks(chunks)
        primer, current, following = b"", next(blocks), next(blocks, None)
        while following is not None:
            yield index, current, primer, False
            primer = (primer + current)[-_WINDOW:]
            current, following = following, next(blocks, None)
        yield index, current, primer, True
