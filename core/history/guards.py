"""Limits that every app process must count together, so they live in the shared database:
sign-in attempts (for `core/throttle.py`) and phone stream tickets that have opened their
stream (for `telephony/tickets.py`). One process on SQLite and many on PostgreSQL behave alike.

Counting is atomic across processes: an attempt is checked and counted in one transaction that
holds a lock on its keys (PostgreSQL advisory locks, SQLite's write lock), so attempts sent in
parallel to several processes cannot all pass a check that none of them has yet counted. A
ticket is marked used by inserting its call's row: the primary key lets exactly one process in.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, false, func, insert, or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.errors import StorageFullError
from core.history.models import LoginAttempt, UsedTicket

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Charge:
    """What charging an attempt did: the rows that now count it (one per key), or, when a key
    was at its limit, nothing and the seconds until it is not."""

    ids: tuple[int, ...] = ()
    wait_s: float = 0.0
    # An attempt counted in the memory of one process instead, when the database had no room
    # for it (see `core.throttle`)
    local_id: int | None = None

    @property
    def refused(self) -> bool:
        return self.wait_s > 0


def wait_s(
    times: Mapping[str, Sequence[float]],
    limits: Sequence[tuple[str, int]],
    *,
    now: float,
    window_s: float,
) -> float:
    """Seconds until every `(key, limit)` has fewer than `limit` attempts in the window, given
    the sorted times of each key's attempts in it (0: none is at its limit)."""
    wait = 0.0
    for key, limit in limits:
        counted = times.get(key, ())
        if len(counted) >= limit:
            wait = max(wait, counted[len(counted) - limit] + window_s - now)
    return wait


def _lock_id(key: str) -> int:
    """A signed 64-bit id for PostgreSQL's advisory lock of `key`."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def _lock_keys(connection: Connection, keys: Sequence[str]) -> None:
    """Hold `keys` until the transaction ends; in sorted order, so two attempts sharing keys
    cannot wait on each other."""
    if connection.dialect.name == "postgresql":
        for key in sorted(set(keys)):
            connection.execute(select(func.pg_advisory_xact_lock(_lock_id(key))))
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, before reading


class SharedGuards:
    """Sign-in attempts and used tickets in the database at `engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # Sign-in attempts ----------------------------------------------------------------------

    def charge(self, limits: Sequence[tuple[str, int]], *, now: float, window_s: float) -> Charge:
        """Count one attempt against each `(key, limit)`, unless a key already has `limit`
        attempts within the last `window_s` seconds; then count nothing and say how long until
        its oldest counted attempt leaves the window."""
        keys = [key for key, _ in limits]
        with self.engine.begin() as connection:
            _lock_keys(connection, keys)
            times = _recent(connection, keys, since=now - window_s)
            wait = wait_s(times, limits, now=now, window_s=window_s)
            if wait > 0:
                return Charge(wait_s=wait)
            ids = connection.scalars(
                insert(LoginAttempt).returning(LoginAttempt.id),
                [{"key": key, "at": now} for key, _ in limits],
            ).all()
        return Charge(ids=tuple(ids))

    def recent(self, keys: Sequence[str], *, since: float) -> dict[str, list[float]]:
        """The sorted times of the attempts counted against each key since `since`. Reads
        only: it works on a full disk."""
        with self.engine.connect() as connection:
            return _recent(connection, keys, since=since)

    def release(self, ids: Sequence[int] = (), *, key: str | None = None) -> None:
        """Stop counting the attempts `ids`, and every attempt against `key`."""
        condition = or_(LoginAttempt.id.in_(ids), LoginAttempt.key == key if key else false())
        with self.engine.begin() as connection:
            connection.execute(delete(LoginAttempt).where(condition))

    def forget_attempts(self, *, before: float) -> None:
        """Drop attempts too old to count (keys tried once are otherwise kept for ever)."""
        self._prune(delete(LoginAttempt).where(LoginAttempt.at <= before))

    # Stream tickets --------------------------------------------------------------------------

    def use_ticket(self, call_sid: str, *, expires: float, now: float) -> bool:
        """Mark the ticket of `call_sid` used; False when it was already, by any process."""
        self._prune(delete(UsedTicket).where(UsedTicket.expires <= now))
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(UsedTicket).values(call_sid=call_sid, expires=expires))
        except IntegrityError:
            return False
        return True

    def _prune(self, statement: object) -> None:
        # Housekeeping: when two processes prune the same rows at once, PostgreSQL may pick one
        # as a deadlock's victim, and a full disk has no room even to delete. The rows go next
        # time; nothing that counts is lost.
        try:
            with self.engine.begin() as connection:
                connection.execute(statement)  # type: ignore[call-overload]
        except DBAPIError as exc:
            logger.info("Pruning old rows left for next time: %s", exc.orig)
        except StorageFullError as exc:
            logger.info("Pruning old rows left for next time: %s", exc)


def _recent(connection: Connection, keys: Sequence[str], *, since: float) -> dict[str, list[float]]:
    return {
        key: list(
            connection.scalars(
                select(LoginAttempt.at)
                .where(LoginAttempt.key == key, LoginAttempt.at > since)
                .order_by(LoginAttempt.at)
            )
        )
        for key in keys
    }
