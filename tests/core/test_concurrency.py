"""Blocking work off the event loop: the fair model lock, the two pools, streamed model output,
and work nobody waits for any more dropped before it runs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from core.concurrency import (
    MODEL_WORKERS,
    Abandoned,
    FairLock,
    Holding,
    Ticket,
    deferring,
    parallelism,
    raise_if_abandoned,
    run_blocking,
    run_model,
    spawn_for,
    waiting_on,
    working_on,
)
from core.errors import ProviderError
from core.model_streams import iterate_blocking
from core.stt.groq import GroqSTT


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def queue_behind(lock: FairLock, action: Callable[[], None]) -> threading.Thread:
    """A thread that asks for `lock`, then runs `action` holding it; returns once it is queued."""
    queued = lock.waiting

    def work() -> None:
        with lock:
            action()

    thread = threading.Thread(target=work)
    thread.start()
    wait_until(lambda: lock.waiting == queued + 1)
    return thread


# FairLock ---------------------------------------------------------------------------------


def test_a_fair_lock_serves_threads_in_the_order_they_asked() -> None:
    lock = FairLock()
    order: list[int] = []
    with lock:
        assert (lock.waiting, lock.ahead) == (0, 1)
        threads = [queue_behind(lock, lambda i=i: order.append(i)) for i in range(6)]
        assert (lock.waiting, lock.ahead) == (6, 7)
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4, 5]
    assert (lock.waiting, lock.ahead) == (0, 0)


def test_try_acquire_takes_only_a_free_lock_and_holds_it_until_release() -> None:
    lock = FairLock()
    assert lock.try_acquire()
    assert lock.ahead == 1
    assert not lock.try_acquire()  # not re-entrant, even for its holder
    served = threading.Event()
    thread = queue_behind(lock, served.set)
    assert not served.is_set()  # the queued thread waits for the release
    lock.release()
    thread.join(5)
    assert served.is_set()
    assert lock.try_acquire()
    lock.release()
    assert lock.ahead == 0


def test_try_acquire_never_jumps_the_queue() -> None:
    lock = FairLock()
    served: list[str] = []
    lock.__enter__()
    thread = queue_behind(lock, lambda: served.append("queued"))
    # Hold the lock's condition so the woken thread cannot run yet: this freezes the instant
    # after the release, when the lock is free but someone is still in line for it.
    with lock._cond:
        lock.release()
        assert lock.ahead == 1  # nobody holds it, one waits
        assert not lock.try_acquire()
    thread.join(5)
    assert served == ["queued"]
    assert lock.ahead == 0


def queue_as(
    lock: FairLock, ticket: Ticket, action: Callable[[], None], outcome: list[str]
) -> threading.Thread:
    """A thread that asks for `lock` as `ticket`, then runs `action` holding it (or notes in
    `outcome` that it was abandoned); returns once it is queued."""
    queued = lock.waiting

    def work() -> None:
        try:
            lock.acquire(ticket)
        except Abandoned:
            outcome.append("abandoned")
            return
        try:
            action()
        finally:
            lock.release()

    thread = threading.Thread(target=work)
    thread.start()
    wait_until(lambda: lock.waiting == queued + 1)
    return thread


def test_a_cancelled_waiter_leaves_the_queue_at_once_and_never_runs() -> None:
    lock = FairLock()
    ran: list[str] = []
    outcome: list[str] = []
    tickets = {name: Ticket() for name in ("first", "dropped", "last")}
    with lock:
        threads = [
            queue_as(lock, ticket, lambda n=name: ran.append(n), outcome)
            for name, ticket in tickets.items()
        ]
        tickets["dropped"].cancel()
        assert (lock.waiting, lock.ahead) == (2, 3)  # out of the queue before the call returns
        threads[1].join(5)
        assert outcome == ["abandoned"]
    for thread in threads:
        thread.join(5)
    assert ran == ["first", "last"]
    assert lock.ahead == 0


def test_a_ticket_cancelled_before_it_asks_never_takes_even_a_free_lock() -> None:
    lock = FairLock()
    ticket = Ticket()
    ticket.cancel()
    with pytest.raises(Abandoned):
        lock.acquire(ticket)
    assert lock.ahead == 0
    with working_on(ticket), pytest.raises(Abandoned):
        with lock:  # the work running here is the ticket's
            pass
    assert lock.try_acquire()
    lock.release()


def test_an_owner_just_served_goes_behind_a_newcomer() -> None:
    """A talker's job holds the model and their next one waits; another person's job that
    comes later still goes first: it waits for the one job running, not for two."""
    lock = FairLock()
    order: list[str] = []
    outcome: list[str] = []
    lock.acquire(Ticket(owner="talker"))  # the talker's job, running
    threads = [
        queue_as(lock, Ticket(owner="talker"), lambda: order.append("talker"), outcome),
        queue_as(lock, Ticket(owner="listener"), lambda: order.append("listener"), outcome),
        queue_as(lock, Ticket(), lambda: order.append("upload"), outcome),  # no owner
    ]
    assert (lock.waiting_for("talker"), lock.waiting_for("listener")) == (1, 1)
    assert lock.waiting_for(None) == 1
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == ["listener", "upload", "talker"]


def test_owners_take_turns_and_calls_without_one_keep_their_order() -> None:
    lock = FairLock()
    order: list[str] = []
    outcome: list[str] = []
    with lock:
        threads = [
            queue_as(lock, Ticket(owner=owner), lambda t=tag: order.append(t), outcome)
            for owner, tag in [("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1"), ("b", "b2")]
        ]
        threads += [
            queue_as(lock, Ticket(), lambda t=tag: order.append(t), outcome) for tag in ("x1", "x2")
        ]
    for thread in threads:
        thread.join(5)
    # Each owner once per round, the longest unserved first; the ownerless as one owner.
    assert order == ["a1", "b1", "x1", "a2", "b2", "x2", "a3"]


def test_a_deferring_holder_passes_its_turn_to_another_owner_and_gets_it_back() -> None:
    """An answer that may yet be withdrawn steps aside between two tokens (`pass_turn`) while
    it defers and another owner's call waits; its own owner's next call and a guess do not
    make it step aside, no guess runs in the gap, and a holder that does not defer (an answer
    that cannot be withdrawn) never steps aside."""
    lock = FairLock()
    order: list[str] = []
    outcome: list[str] = []
    unheard = [True]
    talker = Ticket(owner="talker")
    talker.defers = lambda: unheard[0]
    lock.acquire(talker)
    assert not lock.others_first(talker)  # nobody waits
    queue_as(lock, Ticket(owner="talker"), lambda: order.append("talker's next"), outcome)
    queue_as(lock, Ticket(owner="other", speculative=True), lambda: order.append("guess"), outcome)
    assert not lock.others_first(talker)  # only its own and a guess
    other = queue_as(lock, Ticket(owner="other"), lambda: order.append("other"), outcome)
    unheard[0] = False
    assert not lock.others_first(talker)  # heard now: it keeps the model
    unheard[0] = True
    assert lock.others_first(talker)
    assert not lock.others_first(Ticket(owner="talker"))  # a ticket that does not defer
    lock.pass_turn(talker)  # back once the other's call is done
    order.append("talker, on")
    other.join(5)
    assert order == ["other", "talker, on"]
    assert not lock.others_first(talker)
    lock.release()
    wait_until(lambda: len(order) == 4)
    assert order[2:] == ["talker's next", "guess"]


def test_work_defers_from_where_its_task_says_so() -> None:
    async def scenario() -> list[bool]:
        before = Ticket().defers is None
        deferring(lambda: True)
        after = Ticket().defers
        return [before, after is not None and after()]

    assert asyncio.run(scenario()) == [True, True]
    assert Ticket().defers is None  # the task's context only


def test_a_holder_dropped_while_it_passed_its_turn_leaves_without_the_lock() -> None:
    lock = FairLock()
    outcome: list[str] = []
    talker = Ticket(owner="talker")
    talker.defers = lambda: True
    lock.acquire(talker)
    release = threading.Event()
    other = queue_as(lock, Ticket(owner="other"), lambda: release.wait(5) and None, outcome)
    result: list[str] = []

    def step_aside() -> None:
        try:
            lock.pass_turn(talker)
            result.append("got it back")
        except Abandoned:
            result.append("abandoned")

    thread = threading.Thread(target=step_aside)
    thread.start()
    wait_until(lambda: lock.waiting == 1)  # the talker, queued behind the other's call
    talker.cancel()
    thread.join(5)
    release.set()
    other.join(5)
    assert result == ["abandoned"]
    assert lock.try_acquire()  # free: nobody holds it
    lock.release()


def test_a_guess_waits_behind_turns_until_it_becomes_one() -> None:
    lock = FairLock()
    order: list[str] = []
    outcome: list[str] = []
    guess = Ticket(owner="a", speculative=True)
    other = Ticket(owner="b", speculative=True)
    with lock:
        threads = [
            queue_as(lock, guess, lambda: order.append("guess"), outcome),
            queue_as(lock, other, lambda: order.append("other guess"), outcome),
            queue_as(lock, Ticket(owner="c"), lambda: order.append("turn"), outcome),
        ]
        guess.promote()  # the pause was the end of the turn: this guess is its transcript
    for thread in threads:
        thread.join(5)
    # The other guess asked before the turn, and still goes after it.
    assert order == ["guess", "turn", "other guess"]


def test_a_guess_waits_while_a_turn_runs_on_another_model() -> None:
    llm, stt = FairLock(), FairLock()
    ran: list[str] = []
    outcome: list[str] = []
    guess = Ticket(owner="talker", speculative=True)
    answer = Ticket(owner="other")
    llm.acquire(answer)  # another user's answer is being written
    try:
        thread = queue_as(stt, guess, lambda: ran.append("guess"), outcome)
        time.sleep(0.1)
        assert ran == [] and stt.ahead == 1  # the speech model is free, yet the guess waits
    finally:
        llm.release()
    thread.join(5)
    assert ran == ["guess"]
    # A turn's own transcription does not wait for anyone else's answer; nor does a guess
    # that becomes one.
    llm.acquire(Ticket(owner="other"))
    try:
        with stt:
            ran.append("turn")
        guess = Ticket(owner="talker", speculative=True)
        thread = queue_as(stt, guess, lambda: ran.append("promoted"), outcome)
        guess.promote()
        thread.join(5)
    finally:
        llm.release()
    assert ran == ["guess", "turn", "promoted"]


def test_a_guess_under_way_steps_aside_between_its_steps_for_a_turns_work() -> None:
    """A guess that started on a free machine waits between two of its steps while a turn's
    work runs on another model, and lets a turn's call waiting for its own model go first;
    a turn's work never steps aside there, and a guess carries on when nothing is due."""
    llm, stt = FairLock(), FairLock()
    order: list[str] = []
    outcome: list[str] = []
    guess = Ticket(owner="talker", speculative=True)
    with Holding(stt, guess) as hold:
        hold.between_steps()  # nothing due: it carries on at once
        assert hold.passes == 0
        llm.acquire(Ticket(owner="other"))  # another user's answer starts
        stepped = threading.Thread(target=hold.between_steps)
        stepped.start()
        wait_until(lambda: stt.waiting == 1)  # the guess waits, the speech model free
        with stt:  # a turn's transcription takes the model at once
            order.append("turn")
        time.sleep(0.05)
        assert stepped.is_alive()  # the answer still runs
        llm.release()
        stepped.join(5)
        assert not stepped.is_alive() and hold.held and hold.passes == 1
        order.append("guess, on")
        queue_as(stt, Ticket(owner="caller"), lambda: order.append("next turn"), outcome)
        with Holding(llm, Ticket(owner="other")) as answer:
            answer.between_steps()  # a turn's work: no stepping aside
            assert answer.passes == 0
        stepped = threading.Thread(target=hold.between_steps)
        stepped.start()  # a turn's call waits for this model: it goes first
        stepped.join(5)
    wait_until(lambda: len(order) == 3)
    assert order == ["turn", "guess, on", "next turn"] and outcome == []
    assert stt.try_acquire()  # and nobody holds the lock after
    stt.release()


@pytest.mark.parametrize("run", [run_model, run_blocking])
def test_a_model_call_whose_task_is_cancelled_leaves_the_queue_unrun(run) -> None:
    """The superseded job of a conversation never runs: cancelling the task that awaits
    `run_model` (a transcription) or `run_blocking` (a sentence to speak) takes the call out
    of the model's queue, where it waited on a worker thread."""
    lock = FairLock()
    ran: list[str] = []

    def job(name: str) -> str:
        with lock:
            ran.append(name)
        return name

    async def scenario() -> tuple[str, int, int]:
        lock.acquire(Ticket(owner="someone else"))
        old = spawn_for("talker", run(job, "superseded"))
        await asyncio.to_thread(wait_until, lambda: lock.waiting_for("talker") == 1)
        old.cancel()
        with pytest.raises(asyncio.CancelledError):
            await old  # its call has left the queue by now
        new = spawn_for("talker", run(job, "newer"))
        await asyncio.to_thread(wait_until, lambda: lock.waiting_for("talker") == 1)
        waiting = lock.waiting
        lock.release()
        return await new, waiting, lock.ahead

    newest, waiting, ahead = asyncio.run(scenario())
    assert (newest, waiting, ahead) == ("newer", 1, 0)
    assert ran == ["newer"]


def test_a_running_call_stops_at_its_next_step_once_cancelled() -> None:
    steps: list[int] = []
    started = threading.Event()

    def long_job() -> None:
        for step in range(500):
            started.set()
            steps.append(step)
            time.sleep(0.01)
            raise_if_abandoned()

    async def scenario() -> None:
        task = asyncio.ensure_future(run_model(long_job))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    done = len(steps)
    time.sleep(0.1)
    assert len(steps) == done < 500  # it stopped, and stays stopped


# Queue positions of real models -----------------------------------------------------------


def test_local_models_serve_one_call_at_a_time_and_report_their_queue(local_stt, local_llm) -> None:
    for model in (local_stt, local_llm):
        assert parallelism(model) == 1
        assert waiting_on(model) == 0
        with model.lock:
            assert waiting_on(model) == 1
            thread = queue_behind(model.lock, lambda: None)
            assert waiting_on(model) == 2
        thread.join(5)
        assert waiting_on(model) == 0


def test_a_cloud_model_has_no_queue_of_its_own() -> None:
    stt = GroqSTT(api_key="unused", model="whisper-large-v3-turbo", base_url="http://127.0.0.1:9")
    try:
        assert parallelism(stt) == MODEL_WORKERS
        assert waiting_on(stt) == 0
    finally:
        stt.client.close()


# run_blocking and run_model -----------------------------------------------------------------


def test_blocking_work_runs_on_worker_threads_while_the_loop_goes_on() -> None:
    def work(seconds: float, tag: str) -> tuple[str, str]:
        time.sleep(seconds)
        return tag, threading.current_thread().name

    async def scenario() -> tuple[tuple[str, str], tuple[str, str], int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        quick, model = await asyncio.gather(
            run_blocking(work, 0.3, "quick"), run_model(work, 0.3, "model")
        )
        ticker.cancel()
        return quick, model, ticks

    (tag, quick_thread), (model_tag, model_thread), ticks = asyncio.run(scenario())
    assert (tag, model_tag) == ("quick", "model")
    assert quick_thread.startswith("agent-work")
    assert model_thread.startswith("model-work")
    assert ticks >= 10  # the loop kept running during the 0.3 s sleeps


def test_an_error_in_blocking_work_is_raised_to_the_caller() -> None:
    def fail() -> None:
        raise ProviderError("the model is gone")

    with pytest.raises(ProviderError, match="the model is gone"):
        asyncio.run(run_model(fail))
    with pytest.raises(ProviderError, match="the model is gone"):
        asyncio.run(run_blocking(fail))


def test_quick_work_does_not_queue_behind_a_full_model_pool() -> None:
    release = threading.Event()

    async def scenario() -> tuple[str, int]:
        waiting = [asyncio.ensure_future(run_model(release.wait, 10)) for _ in range(MODEL_WORKERS)]
        try:
            quick = await asyncio.wait_for(run_blocking(lambda: "served"), timeout=5)
            busy = sum(not w.done() for w in waiting)
        finally:
            release.set()
            await asyncio.gather(*waiting)
        return quick, busy

    quick, busy = asyncio.run(scenario())
    assert quick == "served"
    assert busy == MODEL_WORKERS  # every model worker was still blocked when it was served


# iterate_blocking ---------------------------------------------------------------------------


def test_a_blocking_stream_yields_its_items_in_order_from_the_model_pool() -> None:
    def items() -> Iterator[tuple[int, str]]:
        for i in range(5):
            yield i, threading.current_thread().name

    async def scenario() -> list[tuple[int, str]]:
        return [item async for item in iterate_blocking(items)]

    got = asyncio.run(scenario())
    assert [i for i, _ in got] == [0, 1, 2, 3, 4]
    assert all(name.startswith("model-work") for _, name in got)


def test_a_blocking_stream_is_its_conversations_work_else_the_owner_given() -> None:
    """A REST or page turn passes its user as the owner, so two users' answers take turns at
    the model; inside a live conversation's task, the work stays the conversation's."""

    def owner_of_the_work() -> Iterator[object]:
        from core.concurrency import current_ticket

        yield current_ticket().owner

    async def scenario() -> list[object]:
        async def inside_conversation() -> object:
            return [o async for o in iterate_blocking(owner_of_the_work, owner="user 1")][0]

        rest = [o async for o in iterate_blocking(owner_of_the_work, owner="user 1")][0]
        plain = [o async for o in iterate_blocking(owner_of_the_work)][0]
        live = await spawn_for("conversation", inside_conversation())
        return [rest, plain, live]

    assert asyncio.run(scenario()) == ["user 1", None, "conversation"]


def test_a_blocking_stream_starts_working_before_it_is_awaited() -> None:
    started = threading.Event()

    def items() -> Iterator[str]:
        started.set()
        yield "first"

    async def scenario() -> tuple[bool, list[str]]:
        stream = iterate_blocking(items)
        began = started.wait(5)  # no await yet: the worker has already begun
        return began, [item async for item in stream]

    assert asyncio.run(scenario()) == (True, ["first"])


def test_an_error_in_a_blocking_stream_reaches_the_consumer_after_the_items_before_it() -> None:
    def items() -> Iterator[str]:
        yield "one"
        yield "two"
        raise ProviderError("stream broke")

    async def scenario() -> tuple[list[str], str]:
        stream = iterate_blocking(items)
        got: list[str] = []
        with pytest.raises(ProviderError) as raised:
            async for item in stream:
                got.append(item)
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
        return got, str(raised.value)

    assert asyncio.run(scenario()) == (["one", "two"], "stream broke")


def test_closing_a_blocking_stream_stops_and_closes_its_iterator() -> None:
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            i = 0
            while True:  # endless: only the stop can end it
                i += 1
                yield i
                time.sleep(0.01)
        finally:
            closed.set()

    async def scenario() -> list[int]:
        stream = iterate_blocking(items)
        got = [await anext(stream) for _ in range(3)]
        await stream.aclose()
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
        return got

    assert asyncio.run(scenario()) == [1, 2, 3]
    assert closed.wait(5)  # the worker noticed the stop and closed the generator


def test_a_held_blocking_stream_waits_between_items_until_released() -> None:
    hold = threading.Event()
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(4):
            produced.append(i)
            yield i

    async def scenario() -> tuple[int, list[int], list[int]]:
        stream = iterate_blocking(items, hold=hold)
        first = await anext(stream)
        await asyncio.sleep(0.2)
        during_hold = list(produced)
        hold.set()
        return first, during_hold, [item async for item in stream]

    first, during_hold, rest = asyncio.run(scenario())
    assert first == 0
    assert during_hold == [0]  # the worker waited after its first item
    assert rest == [1, 2, 3]


def test_closing_a_blocking_stream_that_waits_for_the_model_takes_it_out_of_the_queue() -> None:
    """An answer cancelled while it waits for the model leaves the queue without generating."""
    lock = FairLock()
    generated: list[str] = []

    def answer() -> Iterator[str]:
        with lock:
            generated.append("token")
            yield "token"

    async def scenario() -> tuple[int, int]:
        lock.acquire()
        stream = iterate_blocking(answer)
        await asyncio.to_thread(wait_until, lambda: lock.waiting == 1)
        await stream.aclose()
        waiting = lock.waiting
        lock.release()
        await asyncio.sleep(0.1)
        return waiting, lock.ahead

    assert asyncio.run(scenario()) == (0, 0)
    assert generated == []


def test_a_held_blocking_stream_still_stops_when_closed() -> None:
    hold = threading.Event()
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            yield from range(100)
        finally:
            closed.set()

    async def scenario() -> int:
        stream = iterate_blocking(items, hold=hold)
        first = await anext(stream)
        await stream.aclose()
        return first

    assert asyncio.run(scenario()) == 0
    assert closed.wait(5)  # the held worker noticed the stop and closed the generator
