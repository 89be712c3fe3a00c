"""What a client sends besides audio: JSON control messages, read without trusting them.

Both live channels (the WebSocket conversation and Twilio's media stream) read their text
frames here. A frame is a JSON object or nothing: not JSON, not an object, or nested so deep
that the parser gives up (50,000 "[" raised RecursionError out of the handler, issue 23) all
read as None, and the channel answers with its documented error, not a traceback.
"""

from __future__ import annotations

import json
from typing import Any

# The most a client can say it has played of one answer: a day, in milliseconds.
MAX_PLAYED_MS = 86_400_000.0


def json_object(text: str) -> dict[str, Any] | None:
    """The frame's JSON object, or None when it is not one."""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def played_ms(control: dict[str, Any]) -> float | None:
    """A `playback` report's milliseconds played: a finite number of at most MAX_PLAYED_MS
    (an integer of 401 digits overflowed float()), or None."""
    value = control.get("played_ms")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # Compared before it is converted: Python compares any int exactly, and NaN fails.
    return float(value) if 0 <= value <= MAX_PLAYED_MS else None
