"""The phone's keypad in a live conversation: digits go to a tool that is reading them, and
otherwise a keypress stops the agent talking (a way in on a line too noisy for barge-in)."""

from __future__ import annotations

import asyncio
import contextlib

END_KEY = "#"
DIGITS = frozenset("0123456789*")


class KeypadDigits:
    """Keypresses of one call, for `core.tools.Keypad` readers."""

    def __init__(self) -> None:
        self._presses: asyncio.Queue[str] | None = None  # set while a tool reads

    @property
    def reading(self) -> bool:
        return self._presses is not None

    def press(self, key: str) -> bool:
        """A key was pressed; True when a reader took it."""
        if self._presses is None or (key not in DIGITS and key != END_KEY):
            return False
        self._presses.put_nowait(key)
        return True

    async def read_digits(self, *, max_digits: int, timeout_s: float) -> str:
        """Digits typed until `#`, `max_digits` of them, or `timeout_s` without a key."""
        self._presses = asyncio.Queue()
        digits = ""
        try:
            while len(digits) < max_digits:
                try:
                    key = await asyncio.wait_for(self._presses.get(), timeout_s)
                except TimeoutError:
                    break
                if key == END_KEY:
                    break
                digits += key
        finally:
            self._presses = None
        return digits

    def cancel(self) -> None:
        """Stop a read in progress (the call ends): it returns what it has."""
        if self._presses is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self._presses.put_nowait(END_KEY)
