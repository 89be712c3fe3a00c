"""A blocking model iterator (an answer being generated) consumed from the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

from core.concurrency import Ticket, model_executor, working_on

T = TypeVar("T")

_DONE = object()


class BlockingStream(Generic[T]):
    """Items of a blocking iterator running on the model pool, as an async iterator."""

    def __init__(
        self,
        make_iter: Callable[[], Iterator[T]],
        *,
        hold: threading.Event | None = None,
        owner: Hashable | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        # The caller's task's owner (a live conversation), else `owner`.
        ticket = Ticket()
        if ticket.owner is None:
            ticket.owner = owner
        self._ticket = ticket
        self._hold = hold
        self._future = self._loop.run_in_executor(model_executor, self._work, make_iter)
        self._finished = False

    def _put(self, item: object) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _work(self, make_iter: Callable[[], Iterator[T]]) -> None:
        stop = self._ticket
        with working_on(stop):
            iterator = make_iter()
            try:
                for item in iterator:
                    if stop.cancelled:
                        break
                    self._put(item)
                    # Paused by the consumer (say, while the first sentence is spoken): wait
                    # between items, waking up regularly to notice a stop.
                    while self._hold is not None and not self._hold.is_set():
                        if stop.cancelled:
                            break
                        self._hold.wait(0.05)
            except BaseException as exc:  # handed to the consumer, raised there
                self._put(exc)
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
                self._put(_DONE)

    def __aiter__(self) -> BlockingStream[T]:
        return self

    async def __anext__(self) -> T:
        if self._finished:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _DONE:
            self._finished = True
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self._finished = True
            raise item
        return item  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Stop the worker: still queued for the model, it leaves the queue without running;
        running, it stops at its next item and finishes in the background."""
        self._ticket.cancel()
        self._finished = True
        if not self._future.done():
            self._future.add_done_callback(lambda f: f.exception())


def iterate_blocking(
    make_iter: Callable[[], Iterator[T]],
    *,
    hold: threading.Event | None = None,
    owner: Hashable | None = None,
) -> BlockingStream[T]:
    """Start a blocking model iterator on the model pool now; iterate its items asynchronously.

    The work starts at the call, not at the first `await`, so a model can begin while the
    caller is still sending headers. `aclose()` (or a consumer that stops early because a
    client went away) cancels the work's ticket: a generation still waiting for the model
    leaves the queue without generating, a running one frees the model at its next token.
    While `hold` is given and cleared, the worker waits between items (the model keeps its
    place and its lock). The work is the calling task's owner's (a live conversation, see
    `spawn_for`), else `owner`'s: a REST or page turn passes its user, so users queue fairly
    among themselves at the model, and one user's calls keep their order.
    """
    return BlockingStream(make_iter, hold=hold, owner=owner)
