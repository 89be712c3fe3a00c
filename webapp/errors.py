"""Turn the core's errors into HTTP answers: the right status, a clear message, no traceback."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from core import errors
from webapp.schemas import ErrorResponse, InvalidRequest

logger = logging.getLogger(__name__)

STATUS: dict[type[errors.AgentError], int] = {
    errors.UnsupportedAudioError: 400,
    errors.UndecodableAudioError: 400,
    errors.DecodeTimeoutError: 400,  # a subclass of the above, named for clarity
    errors.NothingToAnswerError: 400,
    errors.AudioTooLongError: 413,
    errors.InvalidInputError: 422,
    errors.NotFoundError: 404,
    errors.ConflictError: 409,
    errors.TranscriptionError: 500,
    errors.ProviderError: 503,
    errors.ModelMissingError: 503,
    errors.OverloadedError: 503,
    errors.PermissionDeniedError: 403,
    errors.NotConfiguredError: 503,
    errors.UpstreamError: 502,
    errors.StorageFullError: 507,
}


_MEANING = {
    400: "Bad input: a body that cannot be parsed, audio that cannot be decoded, "
    "or nothing to answer",
    401: "Not signed in: missing, invalid, expired or revoked token, or wrong credentials",
    403: "Not allowed on this server, or a wrong current password",
    404: "Not found among your own sessions and turns",
    409: "Already exists",
    413: "Request body or upload too large, or audio too long",
    422: "Invalid request",
    429: "Too many failed sign-ins; see Retry-After",
    500: "Transcription failed",
    502: "A remote service (Twilio) refused the request or could not be reached",
    503: "No provider could serve the request, the server is too busy (see Retry-After), "
    "or the feature is not set up on this server",
    507: "The server's disk is full: nothing was stored or changed; try again later",
}


def documented(*codes: int) -> dict[int | str, dict[str, object]]:
    """The `responses` of a route that can answer with these error codes, for OpenAPI."""
    return {
        code: {
            "model": InvalidRequest if code == 422 else ErrorResponse,
            "description": _MEANING[code],
        }
        for code in codes
    }


def status_for(exc: errors.AgentError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500


MAX_ECHO = 200  # characters of a refused value sent back in a validation error


def _encodable(value: Any) -> Any:
    """The value with every string made encodable as UTF-8: a lone surrogate ("\\ud800" in
    JSON) that the validation refused must not break the answer that says so."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(v) for v in value]
    return value


def _echo(error: dict[str, Any]) -> dict[str, Any]:
    """A validation error whose `input` is cut short (a 25 MB form field must not come back)
    and can be encoded."""
    error = _encodable(error)
    value = error.get("input")
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) <= MAX_ECHO:
        return error
    return {**error, "input": text[:MAX_ECHO] + "..."}


def install(app: FastAPI) -> None:
    async def invalid(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = [_echo(e) for e in jsonable_encoder(exc.errors())]
        return JSONResponse({"detail": details}, status_code=422)

    async def agent_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, errors.AgentError)
        status = status_for(exc)
        if isinstance(exc, errors.OverloadedError):
            logger.info("Refused, over capacity: %s", exc)
        elif status >= 500:
            logger.error("%s: %s", type(exc).__name__, exc)
        detail = str(exc)
        if isinstance(exc, errors.TranscriptionError):
            detail = f"Transcription failed: {exc}"
        headers = None
        if isinstance(exc, errors.OverloadedError):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(
            {"detail": detail, "error": type(exc).__name__}, status_code=status, headers=headers
        )

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("Unhandled error", exc_info=exc)
        return JSONResponse(
            {"detail": "Internal error; the server log has the details.", "error": "Internal"},
            status_code=500,
        )

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(errors.AgentError, agent_error)
    app.add_exception_handler(Exception, unexpected)
