"""The one place the Groq SDK client is made, shared by the speech and chat backends."""

from __future__ import annotations

from typing import Any


def make_client(*, api_key: str, base_url: str | None, timeout: float) -> Any:
    """A `groq.Groq` client that fails fast.

    No SDK retries: a failed call falls back to the local model at once, which is faster than
    waiting out a backoff (and keeps the phone inside Twilio's 15 s).
    """
    try:
        import groq
    except ImportError as exc:  # pragma: no cover - dependency hint
        raise ImportError("Install the Groq SDK: pip install groq") from exc
    return groq.Groq(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)
