"""The one reading of the `groq` and `openai` SDKs' errors, on exceptions built as the SDKs
build them (the real classes, an HTTP response of the status they stand for)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import groq
import httpx
import httpx2
import openai
import pytest

from core.errors import ProviderError
from core.groq_client import GroqBreaker
from core.sdk_errors import Failure, classify, provider_error

# Each SDK with the HTTP library it builds its requests and responses with.
SDKS = [pytest.param(groq, httpx, id="groq"), pytest.param(openai, httpx2, id="openai")]
URL = "https://api.example.test/v1/chat/completions"


def request(http: ModuleType) -> Any:
    return http.Request("POST", URL)


def status_error(
    sdk: ModuleType, http: ModuleType, name: str, status: int, headers: dict | None = None
) -> Any:
    """What the SDK's client raises for a `status` answer: its body in the message, as
    `_make_status_error_from_response` writes it, in the class it picks for that status."""
    body = {"error": {"message": f"refused with {status}", "type": "invalid_request_error"}}
    response = http.Response(status, headers=headers, json=body, request=request(http))
    return getattr(sdk, name)(f"Error code: {status} - {body}", response=response, body=body)


STATUSES = [
    ("BadRequestError", 400, Failure.REFUSED),
    ("AuthenticationError", 401, Failure.REFUSED),
    ("PermissionDeniedError", 403, Failure.REFUSED),
    ("NotFoundError", 404, Failure.REFUSED),
    ("ConflictError", 409, Failure.REFUSED),
    ("UnprocessableEntityError", 422, Failure.REFUSED),
    ("APIStatusError", 413, Failure.REFUSED),  # a status without a class of its own
    ("RateLimitError", 429, Failure.RATE_LIMITED),
    ("InternalServerError", 500, Failure.SERVER_ERROR),
    ("InternalServerError", 503, Failure.SERVER_ERROR),
]


@pytest.mark.parametrize(("sdk", "http"), SDKS)
@pytest.mark.parametrize(("name", "status", "failure"), STATUSES)
def test_each_status_class_is_read_as_its_failure(
    sdk: ModuleType, http: ModuleType, name: str, status: int, failure: Failure
) -> None:
    exc = status_error(sdk, http, name, status)

    assert classify(exc, sdk) is failure
    error = provider_error(exc, sdk, service="Groq", call="chat")
    assert type(error) is ProviderError
    assert str(error) == (
        f"Groq chat failed: {name}: Error code: {status} - {{'error': {{'message': "
        f"'refused with {status}', 'type': 'invalid_request_error'}}}}"
    )


@pytest.mark.parametrize(("sdk", "http"), SDKS)
def test_a_timeout_and_a_dropped_connection_are_told_apart(
    sdk: ModuleType, http: ModuleType
) -> None:
    timeout = sdk.APITimeoutError(request=request(http))
    dropped = sdk.APIConnectionError(request=request(http))

    assert classify(timeout, sdk) is Failure.TIMED_OUT
    assert classify(dropped, sdk) is Failure.UNREACHABLE
    assert str(provider_error(timeout, sdk, service="Groq", call="transcription")) == (
        "Groq transcription failed: APITimeoutError: Request timed out."
    )
    assert str(provider_error(dropped, sdk, service="OpenAI-compatible", call="chat")) == (
        "OpenAI-compatible chat failed: APIConnectionError: Connection error."
    )


@pytest.mark.parametrize(("sdk", "http"), SDKS)
def test_an_error_with_no_status_is_a_broken_call_the_sdk_reported(
    sdk: ModuleType, http: ModuleType
) -> None:
    # What the SDK's stream raises when the server sends an error event mid-answer.
    body = {"message": "model overloaded", "type": "internal_server_error"}
    event = sdk.APIError(message="model overloaded", request=request(http), body=body)
    # An answer that does not fit the schema: a status, but 200.
    unreadable = sdk.APIResponseValidationError(
        http.Response(200, json={"choices": "none"}, request=request(http)), body=None
    )

    assert classify(event, sdk) is Failure.BROKEN
    assert classify(unreadable, sdk) is Failure.BROKEN
    assert str(provider_error(event, sdk, service="Groq", call="chat")) == (
        "Groq chat failed: APIError: model overloaded"
    )
    assert str(provider_error(unreadable, sdk, service="Groq", call="chat")) == (
        "Groq chat failed: APIResponseValidationError: "
        "Data returned by API invalid for expected schema."
    )


@pytest.mark.parametrize(("sdk", "http"), SDKS)
def test_an_http_error_escaping_a_stream_is_a_broken_stream(
    sdk: ModuleType, http: ModuleType
) -> None:
    # The SDK wraps errors while it sends the request, not while the caller reads the stream.
    cut = http.RemoteProtocolError("peer closed connection", request=request(http))

    assert classify(cut, sdk) is Failure.BROKEN
    error = provider_error(cut, sdk, service="OpenAI-compatible", call="chat")
    assert type(error) is ProviderError
    assert str(error) == (
        "OpenAI-compatible stream broke: RemoteProtocolError: peer closed connection"
    )


# What the breaker skips, by failure ---------------------------------------------------------

CHAT, SPEECH = "groq:llama", "groq:whisper"


def skipped(breaker: GroqBreaker) -> dict[str, str]:
    """Each backend's refusal by the breaker right now, or "" when it would call Groq."""
    refusals = {}
    for backend in (CHAT, SPEECH):
        try:
            breaker.check(backend)
            refusals[backend] = ""
        except ProviderError as exc:
            refusals[backend] = str(exc)
    return refusals


@pytest.mark.parametrize(
    ("exc", "chat", "speech"),
    [
        (
            status_error(groq, httpx, "BadRequestError", 400),
            "",
            "",
        ),
        (
            status_error(groq, httpx, "RateLimitError", 429, headers={"retry-after": "12"}),
            "skipped for 12 s more after RateLimitError",
            "",
        ),
        (
            status_error(groq, httpx, "InternalServerError", 502),
            "skipped for 30 s more after InternalServerError",
            "",
        ),
        (
            httpx.RemoteProtocolError("peer closed connection", request=request(httpx)),
            "skipped for 30 s more after RemoteProtocolError",
            "",
        ),
        (
            groq.APITimeoutError(request=request(httpx)),
            "skipped for 30 s more after APITimeoutError",
            "skipped for 30 s more after APITimeoutError",
        ),
        (
            groq.APIConnectionError(request=request(httpx)),
            "skipped for 30 s more after APIConnectionError",
            "skipped for 30 s more after APIConnectionError",
        ),
    ],
    ids=["400", "429", "502", "broken-stream", "timeout", "unreachable"],
)
def test_the_breaker_skips_what_the_failure_calls_for(
    exc: BaseException, chat: str, speech: str
) -> None:
    breaker = GroqBreaker(cooldown_s=30.0, clock=lambda: 1000.0)

    breaker.failed(CHAT, exc)

    assert skipped(breaker) == {CHAT: chat, SPEECH: speech}
