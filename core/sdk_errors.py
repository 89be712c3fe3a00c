"""The `groq` and `openai` SDKs' errors read in one place: what went wrong, as the core's error."""

from __future__ import annotations

from enum import StrEnum
from types import ModuleType

from core.errors import ProviderError


class Failure(StrEnum):
    """What a failed SDK call says went wrong; `GroqBreaker` decides what to skip by it."""

    RATE_LIMITED = "rate limited"  # 429
    REFUSED = "refused"  # another 4xx: this request was refused, not the service
    SERVER_ERROR = "server error"  # 5xx
    TIMED_OUT = "timed out"
    UNREACHABLE = "unreachable"  # refused or dropped connection, before any answer
    BROKEN = "broken"  # no status to go by: a stream cut mid-answer, an unreadable answer


def classify(exc: BaseException, sdk: ModuleType) -> Failure:
    """What `exc`, raised by a call through `sdk` (the `groq` or the `openai` module), means.

    Both SDKs are generated from one template, so their errors have the same names and
    shapes; the module is passed in because each defines its own classes, and only the
    backend that uses an SDK imports it.
    """
    if isinstance(exc, sdk.RateLimitError):
        return Failure.RATE_LIMITED
    if isinstance(exc, sdk.APIStatusError):
        return Failure.REFUSED if exc.status_code < 500 else Failure.SERVER_ERROR
    if isinstance(exc, sdk.APITimeoutError):  # before APIConnectionError, its base class
        return Failure.TIMED_OUT
    if isinstance(exc, sdk.APIConnectionError):
        return Failure.UNREACHABLE
    return Failure.BROKEN


def provider_error(
    exc: BaseException, sdk: ModuleType, *, service: str, call: str
) -> ProviderError:
    """The `ProviderError` for `exc` from a `call` ("chat") to `service` ("Groq") through `sdk`.

    The message names the SDK's exception class, which the stored fallback reason keeps: an
    error the SDK raised reads "<service> <call> failed: <class>: <detail>", anything else
    (an HTTP client error escaping a stream that broke halfway) "<service> stream broke: ...".
    Every failure is a `ProviderError`, so the local model takes over whatever went wrong.
    """
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, sdk.APIError):
        return ProviderError(f"{service} {call} failed: {detail}")
    return ProviderError(f"{service} stream broke: {detail}")
