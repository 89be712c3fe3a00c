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


class ConversationLimit:
    """At most `limit` live conversations at once (WebSocket and phone alike)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open = 0
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        return self._open

    @property
    def full(self) -> bool:
        return self._open >= self.limit

    def enter(self) -> None:
        """Take one conversation's place; `OverloadedError` when all are taken."""
        with self._lock:
            if self._open >= self.limit:
                plural = "s" if self.limit != 1 else ""
                raise OverloadedError(
                    f"The server is busy: it holds {self.limit} live conversation{plural} at "
                    "once, and all are in use. Try again in a minute.",
                    retry_after=60,
                )
            self._open += 1

    def leave(self) -> None:
        with self._lock:
            self._open -= 1
