from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given, settings
from hypothesis import strategies as st

from condapress.assemble import _deflate


def run(chunks: list[bytes], jobs: int, level: int = 6) -> bytes:
    with ThreadPoolExecutor(jobs) as pool:
        return b"".join(out for _, out in _deflate.deflate(chunks, level, pool, ahead=2 * jobs))


def test_the_bytes_do_not_depend_on_the_threads_or_the_chunking() -> None:
    data = bytes(range(256)) * 9000 + b"condapress " * 300_000  # about 5.6 blocks
    reference = run([data], 1)
    assert run([data[i : i + 4096] for i in range(0, len(data), 4096)], 2) == reference
    assert run([data[:10], data[10:]], 4) == reference
    assert zlib.decompress(reference, -15) == data
    # each block primed with the one before: about as small as one stream
    assert len(reference) <= len(zlib.compress(data, 6)) * 1.01


def test_empty_input_is_a_valid_empty_stream() -> None:
    assert zlib.decompress(run([], 2), -15) == b""
    assert zlib.decompress(run([b""], 2), -15) == b""


def test_blocks_come_back_in_order_with_their_input() -> None:
    data = b"x" * (2 * _deflate.BLOCK + 5)
    with ThreadPoolExecutor(2) as pool:
        blocks = [block for block, _ in _deflate.deflate([data], 6, pool)]
    assert [len(b) for b in blocks] == [_deflate.BLOCK, _deflate.BLOCK, 5]


@settings(max_examples=40, deadline=None)
@given(
    pieces=st.lists(st.binary(max_size=3000), max_size=8),
    repeat=st.integers(min_value=1, max_value=700),
    level=st.integers(min_value=1, max_value=9),
)
def test_any_input_round_trips(pieces: list[bytes], repeat: int, level: int) -> None:
    chunks = pieces * repeat  # up to about 16 MiB, across block boundaries
    assert zlib.decompress(run(chunks, 2, level), -15) == b"".join(chunks)


def test_many_streams_give_each_its_own_stream_whatever_runs_ahead() -> None:
    # 40 short streams, the first empty, on both sides of INLINE
    small = [[bytes([i]) * (i * 4001)] for i in range(40)]
    large = [bytes(range(256)) * 12_000]  # about 2.9 blocks
    streams = [*small[:20], large, *small[20:], []]
    alone = [run(chunks, 1) for chunks in streams]
    for jobs in (1, 2, 3):
        with ThreadPoolExecutor(jobs) as pool:
            out = list(_deflate.deflate_many(streams, 6, pool, ahead=2 * jobs))
        indexes = [index for index, _, _ in out]
        assert indexes == sorted(indexes)  # stream after stream, every stream at least once
        assert sorted(set(indexes)) == list(range(len(streams)))
        for index, expected in enumerate(alone):
            assert b"".join(data for i, _, data in out if i == index) == expected
            assert b"".join(block for i, block, _ in out if i == index) == b"".join(streams[index])
            assert zlib.decompress(expected, -15) == b"".join(streams[index])
