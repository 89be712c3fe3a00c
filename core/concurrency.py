"""Run blocking model work off the event loop, in a fair order, and drop what nobody wants."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Hashable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")

# Two pools, so that quick work never queues behind slow work. Model calls wait on their
# models' fair locks, often for seconds (bounded by admission control, core/admission.py):
# they get a pool of their own, sized well above the number of cores on purpose. Everything
# else (database, decoding, speech synthesis) takes milliseconds and runs on the other, so a
# queue at the models cannot delay a sign-in, a token check or an overload refusal.
_executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="agent-work")
MODEL_WORKERS = 64
_model_executor = ThreadPoolExecutor(max_workers=MODEL_WORKERS, thread_name_prefix="model-work")

# Whose work the model calls made in a task are (a live conversation's, see `spawn_for`)...
_owner: ContextVar[Hashable | None] = ContextVar("model_owner", default=None)
# ... and, in the worker thread running one, that call's ticket (`working_on`).
_ticket: ContextVar[Ticket | None] = ContextVar("model_ticket", default=None)

# Owners a lock remembers having served; the one served longest ago is forgotten first, so it
# ranks as never served, which it nearly is.
_REMEMBERED_OWNERS = 1024
_NO_OWNER = object()  # calls without an owner take their turns as one owner, among themselves FIFO


class Abandoned(BaseException):
    """Model work that nobody waits for any more, dropped before it runs (or where it checks).

    A BaseException, as `asyncio.CancelledError` is, for the same reason: the `except
    Exception` around a model call (which logs, wraps, or hands the work to a fallback
    provider) must not take a cancellation for a failure.
    """


class Ticket:
    """One model call's place in line: whose work it is, whether it is only a guess, and
    whether anyone still wants it.

    `owner` is a live conversation (by default the one whose task makes the ticket, see
    `spawn_for`), None for a call on its own. `speculative` marks a guess (a transcription
    started on a pause, before the turn has ended): a turn's own work goes first. `cancel`
    takes the ticket out of a `FairLock`'s queue at once; work that already runs stops where
    it checks (`raise_if_abandoned`), or runs out with nobody reading its result.
    """

    def __init__(self, *, owner: Hashable | None = None, speculative: bool = False) -> None:
        self.owner = owner if owner is not None else _owner.get()
        self.speculative = speculative
        self._cancelled = False
        self._queue: FairLock | None = None  # the lock it waits for, while it waits
        self._arrival = 0

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """Nobody wants this work any more: it leaves any queue now and never starts."""
        self._cancelled = True
        queue = self._queue
        if queue is not None:
            queue._drop(self)

    def promote(self) -> None:
        """The guess turned out to be the turn's own work: from now on it queues as such."""
        self.speculative = False


def spawn_for(owner: Hashable, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Start `coro` as a task whose model calls, and those of the tasks it starts, are
    `owner`'s: they take their turns at the models' locks as that owner's (`FairLock`)."""
    context = copy_context()
    context.run(_owner.set, owner)
    return asyncio.create_task(coro, context=context)


@contextmanager
def working_on(ticket: Ticket) -> Iterator[Ticket]:
    """Blocking work in this block is `ticket`'s: the locks it takes queue it as the ticket's,
    and `raise_if_abandoned` answers for it (run_model and iterate_blocking do this)."""
    token = _ticket.set(ticket)
    try:
        yield ticket
    finally:
        _ticket.reset(token)


def abandoned() -> bool:
    """Whether the model call running here was cancelled: nobody waits for its result."""
    ticket = _ticket.get()
    return ticket is not None and ticket.cancelled


def raise_if_abandoned() -> None:
    """Stop long model work between its steps once nobody waits for it (`Abandoned`)."""
    if abandoned():
        raise Abandoned("nobody waits for this work any more")


class FairLock:
    """One call at a time on a model, in a fair order; a cancelled waiter leaves unserved.

    The next call served is, in this order of rules:
    - a turn's own work before a guess (`Ticket.speculative`);
    - the call of the owner served least recently (never served first): calls without an
      owner take their turns as one owner, so among themselves they keep arrival order;
    - the call that asked first.
    So a conversation that keeps a model busy goes behind everyone else each time it is
    served: one person talking without a pause delays another person's turn by at most the
    one job of theirs already running (in arrival order, another user's press-to-talk waited
    22 s behind one talker's 32 queued transcriptions; docs/architecture.md has the figures).
    A waiter whose ticket is cancelled leaves the queue at once, raising `Abandoned`.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[Ticket] = []  # in arrival order
        self._arrivals = itertools.count()
        self._grants = 0
        self._served: OrderedDict[Hashable, int] = OrderedDict()  # owner: its latest grant
        self._held = False

    @property
    def waiting(self) -> int:
        """How many callers are queued behind the current holder."""
        return len(self._queue)

    @property
    def ahead(self) -> int:
        """How many callers a newcomer would wait behind at most: the holder and the queue."""
        return len(self._queue) + (1 if self._held else 0)

    def waiting_for(self, owner: Hashable | None) -> int:
        """How many of `owner`'s calls wait (None: calls without an owner)."""
        with self._cond:
            return sum(ticket.owner == owner for ticket in self._queue)

    def try_acquire(self) -> bool:
        """Take the lock only if it is free and nobody waits for it (work that may be skipped,
        such as reading a prompt ahead, never makes anyone wait); `release` it after."""
        with self._cond:
            if self._held or self._queue:
                return False
            self._held = True
            return True

    def acquire(self, ticket: Ticket | None = None) -> None:
        """Wait for the lock as `ticket` (by default the ticket of the work running here, see
        `working_on`); `Abandoned` if the ticket is cancelled before its turn comes."""
        ticket = ticket or _ticket.get() or Ticket()
        with self._cond:
            if ticket.cancelled:
                raise Abandoned("cancelled before it queued")
            ticket._arrival = next(self._arrivals)
            ticket._queue = self
            self._queue.append(ticket)
            try:
                while True:
                    if ticket.cancelled:
                        raise Abandoned("cancelled while it queued")
                    if not self._held and self._first() is ticket:
                        break
                    self._cond.wait()
            except BaseException:
                self._remove(ticket)
                raise
            finally:
                ticket._queue = None
            self._queue.remove(ticket)
            self._held = True
            self._grants += 1
            owner = _NO_OWNER if ticket.owner is None else ticket.owner
            self._served[owner] = self._grants
            self._served.move_to_end(owner)
            if len(self._served) > _REMEMBERED_OWNERS:
                self._served.popitem(last=False)

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _rank(self, ticket: Ticket) -> tuple[bool, int, int]:
        owner = _NO_OWNER if ticket.owner is None else ticket.owner
        return ticket.speculative, self._served.get(owner, 0), ticket._arrival

    def _first(self) -> Ticket:
        return min(self._queue, key=self._rank)

    def _remove(self, ticket: Ticket) -> None:
        if ticket in self._queue:
            self._queue.remove(ticket)
            self._cond.notify_all()  # the first in line may be another now

    def _drop(self, ticket: Ticket) -> None:
        """A cancelled ticket leaves at once (its waiting thread wakes up and raises)."""
        with self._cond:
            self._remove(ticket)


class Queueing(Protocol):
    """A model as admission sees it (`core.stt.STT` and `core.llm.LLM` are both)."""

    @property
    def lock(self) -> FairLock | None:
        """A local model serves one call at a time, in a fair order, behind this lock; None
        for a model whose calls run side by side (a cloud model, on someone else's machines)."""
        ...


def parallelism(model: Queueing) -> int:
    """How many calls a model serves at once: one behind its lock, else as many as the model
    pool runs."""
    return 1 if model.lock is not None else MODEL_WORKERS


def waiting_on(model: Queueing) -> int:
    """How many callers hold or wait for a model's lock (0 for a model without one)."""
    return model.lock.ahead if model.lock is not None else 0


def _call(ticket: Ticket, fn: Callable[..., T], args: tuple[object, ...]) -> T:
    with working_on(ticket):
        raise_if_abandoned()  # cancelled while the pool had no thread free for it
        return fn(*args)


async def _run(
    executor: Executor, fn: Callable[..., T], args: tuple[object, ...], ticket: Ticket | None
) -> T:
    ticket = ticket or Ticket()
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(executor, _call, ticket, fn, args)
    except asyncio.CancelledError:
        # The awaiting task is cancelled: without this, the worker thread would still queue
        # for the model and run the work for nobody.
        ticket.cancel()
        raise


async def run_blocking(fn: Callable[..., T], *args: object, ticket: Ticket | None = None) -> T:
    """Run quick blocking work `fn(*args)` on a worker thread, off the event loop. Cancelling
    the awaiting task cancels the work's `ticket` (by default a new one, the task's owner's)."""
    return await _run(_executor, fn, args, ticket)


async def run_model(fn: Callable[..., T], *args: object, ticket: Ticket | None = None) -> T:
    """Run a model call `fn(*args)`, which may wait its turn for the model, off the event loop.
    Cancelling the awaiting task cancels the call's `ticket` (by default a new one, the
    task's owner's): a call still queued for the model leaves the queue without running."""
    return await _run(_model_executor, fn, args, ticket)


_DONE = object()


class BlockingStream(Generic[T]):
    """Items of a blocking iterator running on the model pool, as an async iterator."""

    def __init__(
        self, make_iter: Callable[[], Iterator[T]], *, hold: threading.Event | None = None
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._ticket = Ticket()  # the caller's task's owner
        self._hold = hold
        self._future = self._loop.run_in_executor(_model_executor, self._work, make_iter)
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
    make_iter: Callable[[], Iterator[T]], *, hold: threading.Event | None = None
) -> BlockingStream[T]:
    """Start a blocking model iterator on the model pool now; iterate its items asynchronously.

    The work starts at the call, not at the first `await`, so a model can begin while the
    caller is still sending headers. `aclose()` (or a consumer that stops early because a
    client went away) cancels the work's ticket: a generation still waiting for the model
    leaves the queue without generating, a running one frees the model at its next token.
    While `hold` is given and cleared, the worker waits between items (the model keeps its
    place and its lock).
    """
    return BlockingStream(make_iter, hold=hold)
