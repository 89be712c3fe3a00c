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
from typing import Any, Protocol, Self, TypeVar

T = TypeVar("T")

# Two pools, so that quick work never queues behind slow work. Model calls wait on their
# models' fair locks, often for seconds (bounded by admission control, core/admission.py):
# they get a pool of their own, sized well above the number of cores on purpose. Everything
# else (database, decoding, speech synthesis) takes milliseconds and runs on the other, so a
# queue at the models cannot delay a sign-in, a token check or an overload refusal.
_executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="agent-work")
MODEL_WORKERS = 64
model_executor = ThreadPoolExecutor(max_workers=MODEL_WORKERS, thread_name_prefix="model-work")

# Whose work the model calls made in a task are (a live conversation's, see `spawn_for`)...
_owner: ContextVar[Hashable | None] = ContextVar("model_owner", default=None)
# ... and, in the worker thread running one, that call's ticket (`working_on`).
_ticket: ContextVar[Ticket | None] = ContextVar("model_ticket", default=None)

# Work that steps aside for other owners' while the function says so (`deferring`).
_defers: ContextVar[Callable[[], bool] | None] = ContextVar("model_defers", default=None)

# One condition for every model's lock, because one rule spans them all: a guess waits while
# a turn's own work runs on any local model (`FairLock`). `_turns_running` counts the locks a
# turn's work holds.
_models = threading.Condition()
_turns_running = 0

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
        self.started = False  # a model's lock served it: the work runs (or has run)
        # While this says so, the work steps aside for another owner's (`FairLock.pass_turn`):
        # an answer that may yet be withdrawn, unheard (see `deferring`).
        self.defers: Callable[[], bool] | None = _defers.get()
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
        with _models:
            self.speculative = False
            _models.notify_all()


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


def deferring(while_: Callable[[], bool]) -> None:
    """From here on, the model calls this task makes step aside for another owner's while
    `while_()` holds: a spoken turn's answer that the user has not heard yet, and may
    withdraw by talking on, gives the model to another user's turn between two tokens and
    carries on after it (core/llm/llama_turns.py)."""
    _defers.set(while_)


def current_ticket() -> Ticket:
    """The ticket of the model work running here (`working_on`), else a new one."""
    return _ticket.get() or Ticket()


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
    - a turn's own work before a guess (`Ticket.speculative`); and a guess only while no
      turn's work runs on any model: the two cores are the turn's (measured: another user's
      answer took twice its idle time while a nonstop talker's guesses ran beside it);
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
        self._cond = _models
        self._queue: list[Ticket] = []  # in arrival order
        self._arrivals = itertools.count()
        self._grants = 0
        self._served: OrderedDict[Hashable, int] = OrderedDict()  # owner: its latest grant
        self._held = False
        self._turn_held = False  # held by a turn's work (counted in _turns_running)

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
        ticket = ticket or current_ticket()
        with self._cond:
            if ticket.cancelled:
                raise Abandoned("cancelled before it queued")
            ticket._arrival = next(self._arrivals)
            self._wait_for_turn(ticket)

    def others_first(self, ticket: Ticket) -> bool:
        """Whether the holder `ticket` should let others go first (`pass_turn`): it defers
        (`Ticket.defers`) and another owner's call waits, one that is not a guess."""
        if ticket.defers is None or not ticket.defers():
            return False
        with self._cond:
            return any(
                other.owner != ticket.owner and not other.speculative and not other.cancelled
                for other in self._queue
            )

    def turns_first(self, ticket: Ticket) -> bool:
        """Whether the holder `ticket`, a guess, should let a turn's work go first (`pass_turn`):
        a turn's work runs on a model, or waits for this one. The rule that keeps a guess from
        starting beside a turn's work, applied between two steps of one that had started."""
        with self._cond:
            return ticket.speculative and (
                not self._may_run(ticket)
                or any(not other.speculative and not other.cancelled for other in self._queue)
            )

    def pass_turn(self, ticket: Ticket) -> None:
        """The holder `ticket` steps aside between two steps of its work, and waits for the
        lock again: its owner was just served, so every other owner's call goes first. No guess
        slips in between (the turn's work still counts as running). The caller keeps what the
        model held and puts it back after. Among its owner's calls it keeps its place (it asked
        first). `Abandoned`, without the lock, if the ticket is cancelled meanwhile."""
        with self._cond:
            self._held = False
            self._cond.notify_all()
            self._wait_for_turn(ticket)

    def _wait_for_turn(self, ticket: Ticket) -> None:
        ticket._queue = self
        self._queue.append(ticket)
        try:
            while True:
                if ticket.cancelled:
                    raise Abandoned("cancelled while it queued")
                if not self._held and self._first() is ticket and self._may_run(ticket):
                    break
                self._cond.wait()
        except BaseException:
            self._remove(ticket)
            if not self._held:  # it had passed its turn on, and nobody took it
                self._hold_for(turn=False)
            raise
        finally:
            ticket._queue = None
        self._queue.remove(ticket)
        ticket.started = True
        self._held = True
        self._hold_for(turn=not ticket.speculative)
        self._grants += 1
        owner = _NO_OWNER if ticket.owner is None else ticket.owner
        self._served[owner] = self._grants
        self._served.move_to_end(owner)
        if len(self._served) > _REMEMBERED_OWNERS:
            self._served.popitem(last=False)

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._hold_for(turn=False)
            self._cond.notify_all()

    def _hold_for(self, *, turn: bool) -> None:
        global _turns_running
        _turns_running += int(turn) - int(self._turn_held)
        self._turn_held = turn

    @staticmethod
    def _may_run(ticket: Ticket) -> bool:
        return not ticket.speculative or _turns_running == 0

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


class Holding:
    """A model's lock held for one call's work, which may step aside between two of its steps
    (`step_aside`) and carry on once the lock comes back (core/llm/llama_turns.py keeps the
    model's state meanwhile; Whisper keeps its encoded audio)."""

    def __init__(self, lock: FairLock, ticket: Ticket) -> None:
        self.lock = lock
        self.ticket = ticket
        self.held = False
        self.passes = 0  # how often the work stepped aside

    def __enter__(self) -> Self:
        self.lock.acquire(self.ticket)
        self.held = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.held:
            self.held = False
            self.lock.release()

    def step_aside(self) -> None:
        """Let the calls due first run, and wait for the lock again. `Abandoned` (without the
        lock) if the ticket is cancelled meanwhile."""
        self.held = False
        self.lock.pass_turn(self.ticket)
        self.held = True
        self.passes += 1

    def between_steps(self) -> None:
        """A guess steps aside here for a turn's work (`FairLock.turns_first`); any call stops
        here once nobody waits for it (`raise_if_abandoned`)."""
        raise_if_abandoned()
        if self.lock.turns_first(self.ticket):
            self.step_aside()


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
    return await _run(model_executor, fn, args, ticket)
