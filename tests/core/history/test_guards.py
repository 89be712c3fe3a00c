"""The limits every process counts together (core/history/guards.py): sign-in attempts and used
stream tickets, on SQLite and (in the suite's second pass) PostgreSQL. Two stores on the same
database stand for two app processes: each has its own engine and connection pool."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from core.history import HistoryStore
from core.history.guards import SharedGuards
from core.throttle import LoginThrottle, retry_after
from telephony.tickets import StreamTickets


@pytest.fixture
def processes(database_url: str) -> Iterator[Callable[[], SharedGuards]]:
    """Opens the database as another process would: its own engine, migrated once."""
    stores: list[HistoryStore] = []

    def open_one() -> SharedGuards:
        stores.append(HistoryStore.open(database_url))
        return SharedGuards(stores[-1].engine)

    yield open_one
    for store in stores:
        store.close()


def throttle(guards: SharedGuards, now: list[float], *, per_account: int = 2) -> LoginThrottle:
    return LoginThrottle(
        guards, per_account=per_account, per_client=10, window_s=60, clock=lambda: now[0]
    )


def test_the_window_slides(processes) -> None:
    now = [1000.0]
    logins = throttle(processes(), now)
    assert not logins.begin("ann", "1.2.3.4").refused
    now[0] += 30
    assert not logins.begin("ann", "1.2.3.4").refused
    refused = logins.begin("ann", "5.6.7.8")
    assert refused.refused and retry_after(refused) == 30
    now[0] += 31  # the first failure has left the window
    assert not logins.begin("ann", "5.6.7.8").refused


def test_processes_count_the_same_failures(processes) -> None:
    now = [1000.0]
    one, two = throttle(processes(), now), throttle(processes(), now)
    assert not one.begin("Ann", "1.2.3.4").refused
    assert not two.begin("ann ", "5.6.7.8").refused  # the same account, another process
    assert one.begin("ann", "9.9.9.9").refused and two.begin("ANN", "9.9.9.9").refused
    assert not two.begin("bob", "9.9.9.9").refused  # other accounts are not locked


def test_a_right_password_stops_its_attempt_counting(processes) -> None:
    now = [1000.0]
    one, two = throttle(processes(), now), throttle(processes(), now)
    one.begin("ann", "1.2.3.4")  # a failure
    two.succeeded("ann", two.begin("ann", "1.2.3.4"))  # clears ann's failures
    for _ in range(2):
        assert not one.begin("ann", "1.2.3.4").refused
    # The client's count kept its three failures, not the successful attempt: of its limit of
    # 10, seven are left.
    client = [one.begin(f"user{i}", "1.2.3.4").refused for i in range(8)]
    assert client == [False] * 7 + [True]


def test_parallel_guesses_across_processes_get_no_more_than_the_limit(processes) -> None:
    """Attempts sent at once to several processes: each is counted before its password is
    checked, under a lock, so exactly `per_account` get through."""
    now = [1000.0]
    throttles = [throttle(processes(), now, per_account=5) for _ in range(3)]
    start = threading.Barrier(24)
    admitted: list[bool] = []

    def guess(logins: LoginThrottle, n: int) -> None:
        start.wait()
        admitted.append(not logins.begin("ann", f"10.0.0.{n}").refused)

    threads = [threading.Thread(target=guess, args=(throttles[n % 3], n)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(admitted) == 24 and admitted.count(True) == 5


def test_old_attempts_are_forgotten(processes) -> None:
    now = [1000.0]
    guards = processes()
    logins = throttle(guards, now)
    for n in range(5):
        logins.begin(f"user{n}", "1.2.3.4")
    now[0] += 61
    logins.begin("ann", "5.6.7.8")  # prunes (the first call of this throttle pruned nothing)
    with guards.engine.connect() as connection:
        keys = connection.exec_driver_sql("SELECT key FROM login_attempts").scalars().all()
    assert sorted(keys) == ["client:5.6.7.8", "user:ann"]


def test_a_ticket_opens_one_stream_whichever_process_gets_it(processes) -> None:
    key = b"t" * 32
    one, two = StreamTickets(key, processes()), StreamTickets(key, processes())
    params = one.issue(call_sid="CA1", caller_id="abc", user_id=7, session_id="s1")
    assert two.verify(params, "CA2") is None  # bound to its call
    identity = two.verify(params, "CA1")
    assert identity is not None and (identity.user_id, identity.session_id) == (7, "s1")
    assert one.verify(params, "CA1") is None and two.verify(params, "CA1") is None  # replayed
    other = StreamTickets(b"u" * 32, processes())  # another key signs other tickets
    foreign = one.issue(call_sid="CA3", caller_id="a", user_id=7, session_id="s")
    assert other.verify(foreign, "CA3") is None


def test_a_ticket_replayed_at_once_to_many_processes_opens_one_stream(processes) -> None:
    key = b"t" * 32
    tickets = [StreamTickets(key, processes()) for _ in range(3)]
    params = tickets[0].issue(call_sid="CA9", caller_id="abc", user_id=7, session_id="s1")
    start = threading.Barrier(12)
    opened: list[bool] = []

    def replay(n: int) -> None:
        start.wait()
        opened.append(tickets[n % 3].verify(params, "CA9") is not None)

    threads = [threading.Thread(target=replay, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(opened) == 12 and opened.count(True) == 1
