"""Brute-force protection for sign-in: failures counted per account and per client."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

# Keys tracked at once; the oldest are forgotten first, so random usernames cannot fill memory.
MAX_KEYS = 10_000


def _account(username: str) -> str:
    return f"user:{username.strip().lower()[:64]}"


class LoginThrottle:
    """Refuse sign-in attempts for a while after too many recent failures.

    A key is an account name (lower-cased) or a client address; an attempt is refused when any
    of its keys has `limit` failures within the last `window_s` seconds. The answer does not
    depend on whether the account exists. Thread-safe; in memory, per process.
    """

    def __init__(
        self,
        *,
        per_account: int,
        per_client: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_account = per_account
        self.per_client = per_client
        self.window_s = window_s
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _limits(self, username: str, client: str) -> list[tuple[str, int]]:
        """The attempt's keys, each with its failure limit."""
        return [(_account(username), self.per_account), (f"client:{client}", self.per_client)]

    def retry_after(self, username: str, client: str) -> int | None:
        """Seconds to wait before trying again, or None when the attempt may go ahead."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key, limit in self._limits(username, client):
                times = self._recent(key, now)
                if times is not None and len(times) >= limit:
                    wait = max(wait, times[0] + self.window_s - now)
        return max(1, int(wait + 0.999)) if wait > 0 else None

    def failed(self, username: str, client: str) -> None:
        now = self._clock()
        with self._lock:
            for key, _ in self._limits(username, client):
                times = self._recent(key, now)
                if times is None:
                    times = self._failures[key] = deque()
                times.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_KEYS:
                self._failures.popitem(last=False)

    def succeeded(self, username: str) -> None:
        """A right password clears the account's failures (not the client's)."""
        with self._lock:
            self._failures.pop(_account(username), None)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times
