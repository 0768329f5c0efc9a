"""Run py-rattler's coroutines so that no thread of its runtime is inside Python when they end."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from contextvars import Context

__all__ = ["run_to_the_end"]

#: How long to wait at most for py-rattler's threads to finish handing over a result.
_HANDOVER_TIMEOUT = 5.0

_T = TypeVar("_T")


def run_to_the_end(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(coroutine)``, returning or raising only once py-rattler's threads are idle.

    py-rattler completes each of its futures from a thread of its tokio runtime, through
    ``loop.call_soon_threadsafe``, which lets go of the GIL while it wakes the loop up. The main
    thread may then finish, print an error and start interpreter shutdown before that thread has
    the GIL back; a thread that asks for the GIL during shutdown is ended on the spot, in the middle
    of py-rattler's GIL guard, and the process aborts ("Fatal Python error: PyGILState_Release",
    exit status 134 or 139). So the loop notes the threads that hand results over, and this waits
    until none of them is still running Python code.

    Futures cancelled by an interrupt are not handed over: their threads may still look at them
    later, which is why the console script leaves without interpreter teardown after one.
    """
    callers: set[int] = set()

    async def noting_callers() -> _T:
        loop = asyncio.get_running_loop()
        handover = loop.call_soon_threadsafe

        def call_soon_threadsafe(
            callback: Callable[..., object], *args: object, context: Context | None = None
        ) -> asyncio.Handle:
            callers.add(threading.get_ident())
            return handover(callback, *args, context=context)

        # Only on this loop, which asyncio.run made for this call and closes after it.
        loop.call_soon_threadsafe = call_soon_threadsafe  # type: ignore[method-assign]
        return await coroutine

    try:
        return asyncio.run(noting_callers())
    finally:
        callers.discard(threading.get_ident())
        deadline = time.monotonic() + _HANDOVER_TIMEOUT
        # A thread is listed with a frame until it has returned from the loop's method; once it
        # has, it gives the GIL up only by leaving Python for good.
        while callers & sys._current_frames().keys() and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.001)
