"""Run blocking model work off the event loop, in arrival order, and stream its output back."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")

# Two pools, so that quick work never queues behind slow work. Model calls wait on their
# models' fair locks, often for seconds (bounded by admission control, core/admission.py):
# they get a pool of their own, sized well above the number of cores on purpose. Everything
# else (database, decoding, speech synthesis) takes milliseconds and runs on the other, so a
# queue at the models cannot delay a sign-in, a token check or an overload refusal.
_executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="agent-work")
MODEL_WORKERS = 64
_model_executor = ThreadPoolExecutor(max_workers=MODEL_WORKERS, thread_name_prefix="model-work")


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

    @property
    def ahead(self) -> int:
        """How many callers a newcomer would wait behind: the holder and the queue."""
        return len(self._queue) + (1 if self._held else 0)

    def try_acquire(self) -> bool:
        """Take the lock only if it is free and nobody waits for it (work that may be skipped,
        such as reading a prompt ahead, never makes anyone wait); `release` it after."""
        with self._cond:
            if self._held or self._queue:
                return False
            self._held = True
            return True

    def release(self) -> None:
        self.__exit__()

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


class Queueing(Protocol):
    """A model as admission sees it (`core.stt.STT` and `core.llm.LLM` are both)."""

    @property
    def lock(self) -> FairLock | None:
        """A local model serves one call at a time, in arrival order, behind this lock; None
        for a model whose calls run side by side (a cloud model, on someone else's machines)."""
        ...


def parallelism(model: Queueing) -> int:
    """How many calls a model serves at once: one behind its lock, else as many as the model
    pool runs."""
    return 1 if model.lock is not None else MODEL_WORKERS


def waiting_on(model: Queueing) -> int:
    """How many callers hold or wait for a model's lock (0 for a model without one)."""
    return model.lock.ahead if model.lock is not None else 0


async def run_blocking(fn: Callable[..., T], *args: object) -> T:
    """Run quick blocking work `fn(*args)` on a worker thread, off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, fn, *args)


async def run_model(fn: Callable[..., T], *args: object) -> T:
    """Run a model call `fn(*args)`, which may wait its turn for the model, off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_model_executor, fn, *args)


_DONE = object()


class BlockingStream(Generic[T]):
    """Items of a blocking iterator running on the model pool, as an async iterator."""

    def __init__(
        self, make_iter: Callable[[], Iterator[T]], *, hold: threading.Event | None = None
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._stop = threading.Event()
        self._hold = hold
        self._future = self._loop.run_in_executor(_model_executor, self._work, make_iter)
        self._finished = False

    def _put(self, item: object) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _work(self, make_iter: Callable[[], Iterator[T]]) -> None:
        iterator = make_iter()
        try:
            for item in iterator:
                if self._stop.is_set():
                    break
                self._put(item)
                # Paused by the consumer (say, while the first sentence is spoken): wait
                # between items, waking up regularly to notice a stop.
                while self._hold is not None and not self._hold.is_set():
                    if self._stop.is_set():
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
        """Stop the worker at its next item; it finishes in the background."""
        self._stop.set()
        self._finished = True
        if not self._future.done():
            self._future.add_done_callback(lambda f: f.exception())


def iterate_blocking(
    make_iter: Callable[[], Iterator[T]], *, hold: threading.Event | None = None
) -> BlockingStream[T]:
    """Start a blocking model iterator on the model pool now; iterate its items asynchronously.

    The work starts at the call, not at the first `await`, so a model can begin while the
    caller is still sending headers. `aclose()` (or a consumer that stops early because a
    client went away) tells the worker to stop and close the iterator, so an abandoned
    generation frees the model at its next token. While `hold` is given and cleared, the
    worker waits between items (the model keeps its place and its lock).
    """
    return BlockingStream(make_iter, hold=hold)
