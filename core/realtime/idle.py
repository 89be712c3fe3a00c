"""Silence in a live conversation: ask "Are you still there?" after IDLE_PROMPT_S, and end
politely after IDLE_HANGUP_S more. Counted from the last speech of either side, never while
the agent is answering or the user is speaking."""

from __future__ import annotations

import time
from collections.abc import Callable

from core.phrases import Line

CHECK_EVERY_S = 0.25


class IdleWatch:
    """Decides, each time it is asked, whether the silence calls for a line; pure but for the
    injected clock."""

    def __init__(
        self, *, prompt_s: float, hangup_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.prompt_s = prompt_s
        self.hangup_s = hangup_s
        self.clock = clock
        self._since = clock()
        self._prompted = False
        self._done = False

    def check(self, *, busy: bool) -> Line | None:
        """`busy`: someone is speaking or the agent is answering. The line to say, if any:
        STILL_THERE once per silence, then IDLE_GOODBYE once (the conversation ends)."""
        now = self.clock()
        if busy or self._done:
            self._since = now
            return None
        silent = now - self._since
        if self.prompt_s and not self._prompted:
            if silent >= self.prompt_s:
                self._prompted = True
                return Line.STILL_THERE
        elif self.hangup_s and silent >= self.hangup_s:
            self._done = True
            return Line.IDLE_GOODBYE
        return None

    def heard(self) -> None:
        """The user spoke: the silence starts over, and may be asked about again."""
        self._since = self.clock()
        self._prompted = False
