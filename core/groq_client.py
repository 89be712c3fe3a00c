"""The one place the Groq SDK client is made, shared by the speech and chat backends, and the
breaker that skips Groq for a while after it fails."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from core.errors import ProviderError
from core.sdk_errors import Failure, classify

logger = logging.getLogger(__name__)

# A `retry-after` longer than this is not waited out in one go: Groq is asked again then.
MAX_RETRY_AFTER_S = 600.0
_SERVICE = "groq"


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


class GroqBreaker:
    """Skip Groq for a while after it fails, instead of making each call wait for it to fail.

    A hanging Groq costs `GROQ_TIMEOUT_S` per call, and a phone turn makes up to three in a
    row (a transcription while the caller pauses, another when they stop, then the answer):
    24 s at the default, far past Twilio's 15 s. So a timeout or a refused connection skips
    both Groq backends for `cooldown_s`; a 5xx or a broken stream skips the backend that got
    it; a 429 skips that backend for the `retry-after` Groq sent. The first call after the
    pause tries Groq again. Skips raise `ProviderError`, so the local model serves the call and
    the turn records why.
    """

    def __init__(self, cooldown_s: float, clock: Any = time.monotonic) -> None:
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, tuple[float, str]] = {}  # scope -> (until, why)

    def check(self, backend: str) -> None:
        """Raise `ProviderError` if `backend` (or all of Groq) is being skipped right now."""
        now = self._clock()
        with self._lock:
            for scope in (_SERVICE, backend):
                until, why = self._open.get(scope, (0.0, ""))
                if now < until:
                    raise ProviderError(f"skipped for {until - now:.0f} s more after {why}")

    def failed(self, backend: str, exc: BaseException) -> None:
        """Record a failed call of `backend` and open the breaker as the failure calls for."""
        import groq

        why = type(exc).__name__
        failure = classify(exc, groq)
        if failure is Failure.RATE_LIMITED:
            scope, pause = backend, _retry_after(exc, self.cooldown_s)
        elif failure in (Failure.TIMED_OUT, Failure.UNREACHABLE):
            scope, pause = _SERVICE, self.cooldown_s
        elif failure is Failure.REFUSED:
            return  # this request was refused (too long, say), not the service
        else:  # 5xx, or a stream that broke mid-answer
            scope, pause = backend, self.cooldown_s
        logger.warning("Skipping %s for %.0f s after %s", scope, pause, why)
        with self._lock:
            self._open[scope] = (self._clock() + pause, why)


def _retry_after(exc: Any, default: float) -> float:
    """The seconds Groq's `retry-after` header asks for, bounded; `default` if it has none."""
    try:
        value = float(exc.response.headers.get("retry-after", ""))
    except (AttributeError, TypeError, ValueError):
        return default
    return min(max(value, 0.0), MAX_RETRY_AFTER_S)
