"""Admission gates: refuse work facing a long wait, learn how long work takes, never leak."""

from __future__ import annotations

import threading
import time

import pytest

from core.admission import ConversationLimit, Gate
from core.errors import OverloadedError


def test_a_gate_admits_work_until_the_expected_wait_passes_the_bound() -> None:
    gate = Gate("model", max_wait_s=2.5, service_s=1.0)
    with gate.slot(), gate.slot(), gate.slot():  # waits of 0, 1 and 2 s: admitted
        assert gate.in_flight == 3
        with pytest.raises(OverloadedError) as refused, gate.slot():
            pass
        assert refused.value.retry_after == 1  # 3 s expected, 0.5 s over: come back in 1 s
        assert "3 s of work" in str(refused.value)
        with gate.slot(refuse=False):  # work admitted elsewhere still queues
            assert gate.in_flight == 4
    assert gate.in_flight == 0


def test_a_gate_counts_work_queued_on_the_model_itself() -> None:
    waiting = [0]
    gate = Gate("model", max_wait_s=1.0, service_s=0.6, queued=lambda: waiting[0])
    waiting[0] = 2  # two live conversations hold the model: 1.2 s ahead
    with pytest.raises(OverloadedError), gate.slot():
        pass


def test_a_gate_learns_the_service_time_and_frees_its_slot_on_errors() -> None:
    gate = Gate("model", max_wait_s=10, service_s=5.0)
    for _ in range(20):
        with pytest.raises(RuntimeError), gate.slot():
            time.sleep(0.01)
            raise RuntimeError("model failed")
    assert gate.in_flight == 0
    assert gate.service_s < 0.1  # from the 5 s first guess to what the work really takes


def test_a_cloud_model_serving_many_at_once_is_not_mistaken_for_a_queue() -> None:
    gate = Gate("cloud", max_wait_s=1.0, service_s=1.5, parallel=64)
    start = threading.Barrier(40)
    refused: list[OverloadedError] = []

    def work() -> None:
        start.wait()
        try:
            with gate.slot():
                time.sleep(0.1)
        except OverloadedError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=work) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not refused  # 40 at once from a cold start: one round, no queue
    assert gate.in_flight == 0
    assert 0.09 < gate.service_s < 1.5  # learning the real 0.1 s per round


def test_the_conversation_limit_holds_and_frees_places() -> None:
    limit = ConversationLimit(2)
    limit.enter()
    limit.enter()
    assert limit.full
    with pytest.raises(OverloadedError) as refused:
        limit.enter()
    assert refused.value.retry_after > 0
    limit.leave()
    limit.enter()
    assert limit.open == 2


def test_one_account_holds_at_most_its_share_and_phone_calls_keep_theirs() -> None:
    """Issue 23: one account could hold every place, and callers heard all lines busy."""
    limit = ConversationLimit(3, per_user=1, phone_reserved=1)
    limit.enter(7)
    with pytest.raises(OverloadedError) as refused:
        limit.enter(7)  # a second tab of the same account
    assert "This account already has 1 live conversation open" in str(refused.value)
    limit.enter(8)
    with pytest.raises(OverloadedError) as busy:
        limit.enter(9)  # the web has taken its two places; the third is the phone's
    assert "busy" in str(busy.value)
    limit.enter(9, phone=True)
    assert limit.full
    limit.leave(7)
    limit.enter(7)  # its place is free again
    with pytest.raises(OverloadedError):
        limit.enter(10, phone=True)
    limit.leave(9, phone=True)
    limit.enter(10, phone=True)
    assert limit.open == 3
