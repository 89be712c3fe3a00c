"""The conversation itself: upload a recording, get an answer (whole or streamed)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import StreamingResponse

from core.errors import AgentError, ProviderError
from core.history import UserRecord
from core.results import (
    AgentEvent,
    AnswerDelta,
    AnswerRestart,
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnStarted,
)
from core.tts.turns import turn_speech
from webapp.deps import AppState, CurrentUser, StateDep
from webapp.errors import documented, status_for
from webapp.schemas import (
    AudioMode,
    ResponseRequest,
    ResponseResponse,
    TranscriptionResponse,
)

logger = logging.getLogger(__name__)

router = APIRouter(tags=["conversation"])

_SSE_DOC = {
    200: {
        "description": "The answer as JSON, or as Server-Sent Events when streaming: "
        '`start`, then `delta` events ({"text"}), maybe `restart` (drop the text so far), '
        '`tool` ({"name", "arguments"}) and `tool_result` (the call with its result) around '
        "each tool the agent calls, then `done` with the whole turn, or `error`.",
        "content": {"text/event-stream": {}},
    }
}


@router.post(
    "/upload",
    response_model=TranscriptionResponse,
    responses=documented(400, 401, 404, 413, 422, 500, 503, 507),
)
async def upload(
    user: CurrentUser,
    state: StateDep,
    file: Annotated[UploadFile, File(description="wav, mp3, ogg/opus, webm, m4a or flac")],
    session_id: Annotated[str | None, Form(max_length=64)] = None,
    personality: Annotated[str | None, Form(max_length=32)] = None,
) -> TranscriptionResponse:
    """Transcribe a recording; it becomes the session's next user turn (new session if none)."""
    data = await file.read()
    result = await state.agent.transcribe(
        user=user, audio=data, session_id=session_id or None, personality=personality or None
    )
    return TranscriptionResponse.model_validate(result)


Finish = Callable[[ResponseResponse], Awaitable[ResponseResponse]]


def audio_step(mode: AudioMode, user: UserRecord, state: AppState) -> Finish:
    """What to add to a finished answer: nothing, a link to its audio, or the audio itself."""

    async def finish(body: ResponseResponse) -> ResponseResponse:
        if mode is AudioMode.URL:
            return body.model_copy(update={"audio_url": f"/turns/{body.turn_id}/audio"})
        if mode is AudioMode.BASE64:
            # The answer is stored already: speech that fails leaves it without audio, saying why.
            audio, note = None, None
            try:
                speech = await turn_speech(
                    store=state.store,
                    tts=state.agent.providers.tts,
                    settings=state.settings,
                    user=user,
                    turn_id=body.turn_id,
                )
                audio, note = base64.b64encode(speech.wav).decode(), speech.fallback
            except AgentError as exc:
                logger.warning("No audio for turn %s: %s", body.turn_id, exc)
                note = f"no audio: {exc}"
            fallback = "; ".join(x for x in (body.fallback, note) if x) or None
            return body.model_copy(update={"audio_base64": audio, "fallback": fallback})
        return body

    return finish


def _sse(event: str, data: dict[str, object]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _event_stream(
    first: AgentEvent, events: AsyncIterator[AgentEvent], finish: Finish
) -> AsyncIterator[str]:
    async def all_events() -> AsyncIterator[AgentEvent]:
        yield first
        async for event in events:
            yield event

    try:
        async for event in all_events():
            if isinstance(event, TurnStarted):
                yield _sse(
                    "start",
                    {
                        "session_id": event.session_id,
                        "turn_id": event.turn_id,
                        "language": event.language,
                        "personality": event.personality,
                    },
                )
            elif isinstance(event, AnswerDelta):
                yield _sse("delta", {"text": event.text})
            elif isinstance(event, AnswerRestart):
                yield _sse("restart", {"reason": event.reason})
            elif isinstance(event, ToolStarted):
                yield _sse("tool", {"name": event.call.name, "arguments": event.call.arguments})
            elif isinstance(event, ToolFinished):
                yield _sse("tool_result", event.result.as_record())
            elif isinstance(event, TurnDone):
                done = await finish(ResponseResponse.model_validate(event.result))
                yield _sse("done", done.model_dump(mode="json", by_alias=True))
    except AgentError as exc:
        # Headers are already sent: the failure travels as an event, not a status code.
        yield _sse("error", {"detail": str(exc), "status": status_for(exc)})


@router.post(
    "/response",
    response_model=ResponseResponse,
    responses={**_SSE_DOC, **documented(400, 401, 404, 413, 422, 503, 507)},
)
async def response(
    body: ResponseRequest, user: CurrentUser, state: StateDep, request: Request
) -> ResponseResponse | StreamingResponse:
    """Answer `text`, or the session's last transcription when `text` is empty.

    Set `"stream": true` or send `Accept: text/event-stream` to receive the answer as
    Server-Sent Events, chunk by chunk. Set `"audio"` to `"url"` or `"base64"` to get the
    answer spoken too.
    """
    finish = audio_step(body.audio, user, state)
    events = state.agent.respond(
        user=user,
        text=body.text,
        session_id=body.session_id or None,
        personality=body.personality or None,
    )
    # The first event comes after validation, so bad requests still get a plain 4xx.
    first = await anext(events)
    wants_stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    if wants_stream:
        return StreamingResponse(
            _event_stream(first, events, finish),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    async for event in events:
        if isinstance(event, TurnDone):
            return await finish(ResponseResponse.model_validate(event.result))
    raise ProviderError("The answer stream ended without a result.")
