"""Brute-force protection for sign-in: attempts counted per account and per client, in the
shared database, so N app processes allow no more failures than one."""

from __future__ import annotations

import time
from collections.abc import Callable

from core.history.guards import Charge, SharedGuards

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

    def begin(self, username: str, client: str) -> Charge:
        """Let an attempt through and count it, or refuse it (`Charge.refused`, `wait_s`)."""
        now = self._clock()
        if now - self._pruned >= PRUNE_EVERY_S:
            self._pruned = now
            self.guards.forget_attempts(before=now - self.window_s)
        limits = [(_account(username), self.per_account), (f"client:{client}", self.per_client)]
        return self.guards.charge(limits, now=now, window_s=self.window_s)

    def succeeded(self, username: str, attempt: Charge) -> None:
        """A right password: the attempt does not count, and the account's failures are
        cleared (not the client's)."""
        self.guards.release(attempt.ids, key=_account(username))


def retry_after(attempt: Charge) -> int:
    """Whole seconds for a `Retry-After` header (at least 1)."""
    return max(1, int(attempt.wait_s + 0.999))
