"""Admission control: refuse work at once when it would only wait in a queue too long.

The local models serve one request at a time, so a burst beyond the machine's capacity
would otherwise pile up behind their locks until clients time out. Each model has a `Gate`
that knows how much work is ahead of a newcomer and how long one piece of work takes
(learned from the work it admits), so it can tell up front whether a request would wait more
than `max_wait_s`; if so the request is refused with the time to come back (HTTP 503 with
`Retry-After`, or a short spoken apology on the phone). Real-time conversations are admitted
as a whole instead (`ConversationLimit`): their turns queue, they are never refused midway.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from core.config import Settings
from core.errors import OverloadedError

# Weight of the newest sample in the running estimate of one piece of work's duration.
_SMOOTHING = 0.2


class Gate:
    """Counts the work in flight on one model and refuses newcomers facing a long wait.

    A model serves `parallel` pieces of work at once: 1 for a local model behind its lock, many
    for a cloud model. `queued` reports how many callers already hold or wait for the model's
    own lock (work that did not come through this gate, such as live conversations, still
    makes the queue longer). The expected wait is the number of full rounds of work ahead
    times the service time of one round, which is learned as each piece of work ends: its
    duration divided by the rounds it found ahead plus one.
    """

    def __init__(
        self,
        name: str,
        *,
        max_wait_s: float,
        service_s: float,
        parallel: int = 1,
        queued: Callable[[], int] = lambda: 0,
    ) -> None:
        self.name = name
        self.max_wait_s = max_wait_s
        self.service_s = service_s
        self.parallel = parallel
        self._queued = queued
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _rounds_ahead(self) -> int:
        return max(self._in_flight, self._queued()) // self.parallel

    def expected_wait(self) -> float:
        """Seconds a newcomer would wait before its own work starts, as far as known now."""
        return self._rounds_ahead() * self.service_s

    @contextmanager
    def slot(self, *, refuse: bool = True) -> Iterator[None]:
        """Hold a place for one piece of work; with `refuse`, raise `OverloadedError` instead
        when the expected wait is over `max_wait_s` (nothing has been done or stored yet)."""
        with self._lock:
            ahead = self._rounds_ahead()
            wait = ahead * self.service_s
            if refuse and wait > self.max_wait_s:
                retry = max(1, math.ceil(wait - self.max_wait_s))
                raise OverloadedError(
                    f"The server is busy: the {self.name} has about {wait:.0f} s of work "
                    f"queued. Try again in {retry} s.",
                    retry_after=retry,
                )
            self._in_flight += 1
        start = time.monotonic()
        try:
            yield
        finally:
            sample = (time.monotonic() - start) / (ahead + 1)
            with self._lock:
                self._in_flight -= 1
                self.service_s += _SMOOTHING * (sample - self.service_s)


class AccountFullError(OverloadedError):
    """The account holds all the live conversations one account may hold."""


class ConversationLimit:
    """At most `limit` live conversations at once (WebSocket and phone alike), at most
    `per_user` of them one account's, and `phone_reserved` of the places for phone calls.

    Without the last two, one self-registered account could open every place (3 on two
    cores) and phone callers would hear that all lines are busy (issue 23).
    """

    def __init__(self, limit: int, *, per_user: int | None = None, phone_reserved: int = 0) -> None:
        self.limit = limit
        self.per_user = per_user or limit
        self.phone_reserved = min(phone_reserved, limit - 1)  # the web keeps one place
        self._open = 0
        self._phone = 0  # of which phone calls
        self._by_user: dict[int, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> ConversationLimit:
        """The limits set; places are kept for phone calls only once Twilio is configured."""
        return cls(
            settings.max_conversations,
            per_user=settings.max_conversations_per_user,
            phone_reserved=(
                settings.phone_reserved_conversations if settings.twilio_auth_token else 0
            ),
        )

    @property
    def open(self) -> int:
        return self._open

    @property
    def full(self) -> bool:
        """No place left, for a phone call either."""
        return self._open >= self.limit

    def enter(self, user_id: int | None = None, *, phone: bool = False) -> None:
        """Take one conversation's place for `user_id`; `OverloadedError` when the server's
        places (those open to this channel) or the account's are all taken."""
        with self._lock:
            web_limit = self.limit - self.phone_reserved
            if self._open >= self.limit or (not phone and self._open - self._phone >= web_limit):
                plural = "s" if self.limit != 1 else ""
                raise OverloadedError(
                    f"The server is busy: it holds {self.limit} live conversation{plural} at "
                    "once, and all are in use. Try again in a minute.",
                    retry_after=60,
                )
            if user_id is not None and self._by_user.get(user_id, 0) >= self.per_user:
                raise AccountFullError(
                    f"This account already has {self.per_user} live conversation"
                    f"{'s' if self.per_user != 1 else ''} open, the most it may hold at once. "
                    "End it first (or hang up).",
                    retry_after=60,
                )
            self._open += 1
            self._phone += phone
            if user_id is not None:
                self._by_user[user_id] = self._by_user.get(user_id, 0) + 1

    def leave(self, user_id: int | None = None, *, phone: bool = False) -> None:
        with self._lock:
            self._open -= 1
            self._phone -= phone
            if user_id is not None:
                left = self._by_user.get(user_id, 1) - 1
                if left > 0:
                    self._by_user[user_id] = left
                else:
                    self._by_user.pop(user_id, None)
