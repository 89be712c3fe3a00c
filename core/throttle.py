"""Brute-force protection for sign-in: attempts counted per account and per client, in the
shared database, so N app processes allow no more failures than one."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from core.errors import StorageFullError
from core.history.guards import Charge, SharedGuards, wait_s

logger = logging.getLogger(__name__)

PRUNE_EVERY_S = 60.0


def _account(username: str) -> str:
    return f"user:{username.strip().lower()[:64]}"


class LoginThrottle:
    """Refuse sign-in attempts for a while after too many recent failures.

    A key is an account name (lower-cased) or a client address; an attempt is refused when any
    of its keys has `limit` attempts counted within the last `window_s` seconds. The answer does
    not depend on whether the account exists. An attempt counts from the moment it is let
    through, before its password is checked (so parallel guesses count too), and stops counting
    if the password was right. Blocking: call it off the event loop.

    On a full disk the database cannot count an attempt. Refusing every sign-in then would
    lock everyone out, and letting every one through would open the door to guessing, so the
    attempt is counted in this process's memory instead, on top of what the database has
    counted: the right password still signs in and guesses are still limited (per process,
    until they leave the window).
    """

    def __init__(
        self,
        guards: SharedGuards,
        *,
        per_account: int,
        per_client: int,
        window_s: float,
        clock: Callable[[], float] = time.time,  # wall time: processes share the counts
    ) -> None:
        self.guards = guards
        self.per_account = per_account
        self.per_client = per_client
        self.window_s = window_s
        self._clock = clock
        self._pruned = 0.0
        self._lock = threading.Lock()
        self._here: dict[str, list[tuple[float, int]]] = {}  # key: (time, local id) each
        self._last_id = 0

    def begin(self, username: str, client: str) -> Charge:
        """Let an attempt through and count it, or refuse it (`Charge.refused`, `wait_s`)."""
        now = self._clock()
        if now - self._pruned >= PRUNE_EVERY_S:
            self._pruned = now
            self.guards.forget_attempts(before=now - self.window_s)
        limits = [(_account(username), self.per_account), (f"client:{client}", self.per_client)]
        try:
            return self.guards.charge(limits, now=now, window_s=self.window_s)
        except StorageFullError:
            logger.warning("No room in the database to count a sign-in: counted in memory")
            return self._charge_here(limits, now)

    def succeeded(self, username: str, attempt: Charge) -> None:
        """A right password: the attempt does not count, and the account's failures are
        cleared (not the client's). On a full disk, those the database counted stay until
        they leave the window: a right password never fails for want of room."""
        account = _account(username)
        with self._lock:
            self._here.pop(account, None)
            if attempt.local_id is not None:
                self._keep(lambda _at, local_id: local_id != attempt.local_id)
        try:
            self.guards.release(attempt.ids, key=account)
        except StorageFullError:
            logger.warning("No room in the database to clear an account's sign-in failures")

    def _charge_here(self, limits: Sequence[tuple[str, int]], now: float) -> Charge:
        """`SharedGuards.charge`, counting in memory on top of the database's counts."""
        since = now - self.window_s
        stored = self.guards.recent([key for key, _ in limits], since=since)
        with self._lock:
            self._keep(lambda at, _local_id: at > since)
            times = {
                key: sorted([*stored[key], *(t for t, _ in self._here.get(key, ()))])
                for key, _ in limits
            }
            wait = wait_s(times, limits, now=now, window_s=self.window_s)
            if wait > 0:
                return Charge(wait_s=wait)
            self._last_id += 1
            for key, _ in limits:
                self._here.setdefault(key, []).append((now, self._last_id))
            return Charge(local_id=self._last_id)

    def _keep(self, wanted: Callable[[float, int], bool]) -> None:
        """Forget the attempts counted in memory that are not `wanted` (under the lock)."""
        kept = {key: [a for a in attempts if wanted(*a)] for key, attempts in self._here.items()}
        self._here = {key: attempts for key, attempts in kept.items() if attempts}


def retry_after(attempt: Charge) -> int:
    """Whole seconds for a `Retry-After` header (at least 1)."""
    return max(1, int(attempt.wait_s + 0.999))
