"""Run blocking model work off the event loop, in arrival order, and stream its output back."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Model calls wait on their own fair locks, so this pool only bounds how many requests can be
# in flight at once; it is sized well above the number of cores on purpose.
_executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="agent-work")


class FairLock:
    """A FIFO lock: threads acquire it in the order they asked, so no request starves."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[int] = deque()
        self._next = 0
        self._held = False

    @property
    def waiting(self) -> int:
        """How many callers are queued behind the current holder."""
        return len(self._queue)

    def __enter__(self) -> FairLock:
        with self._cond:
            ticket = self._next
            self._next += 1
            self._queue.append(ticket)
            while self._held or self._queue[0] != ticket:
                self._cond.wait()
            self._queue.popleft()
            self._held = True
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()


async def run_blocking(fn: Callable[..., T], *args: object) -> T:
    """Run `fn(*args)` on the shared worker pool without blocking the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, fn, *args)


_DONE = object()


async def iterate_blocking(make_iter: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Drive a blocking iterator on the worker pool, yielding its items as they appear.

    When the consumer stops early (a client went away), the worker is told to stop and closes
    the iterator, so an abandoned generation frees the model at its next token.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def work() -> None:
        iterator = make_iter()
        try:
            for item in iterator:
                if stop.is_set():
                    break
                loop.call_soon_threadsafe(queue.put_nowait, item)
        except BaseException as exc:  # handed to the consumer, raised there
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            loop.call_soon_threadsafe(queue.put_nowait, _DONE)

    future = loop.run_in_executor(_executor, work)
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        if not future.done():
            # Let the worker finish in the background; it stops at its next item.
            future.add_done_callback(lambda f: f.exception())
