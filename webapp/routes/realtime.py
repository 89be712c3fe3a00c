"""`WS /ws/conversation`: the real-time engine over a WebSocket (protocol in docs/realtime.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from fastapi.responses import Response
from starlette.websockets import WebSocketState

from core import metrics
from core.concurrency import run_blocking
from core.errors import AgentError, OverloadedError
from core.history import UserRecord
from core.realtime import events as ev
from core.realtime.controls import json_object, played_ms
from core.realtime.engine import Conversation
from webapp.auth import COOKIE, InvalidToken
from webapp.deps import AppState, state_of

logger = logging.getLogger(__name__)

router = APIRouter(tags=["real-time"])

MAX_MESSAGE_BYTES = 1024 * 1024
MIN_RATE, MAX_RATE = 8000, 48000


def event_message(event: ev.Event) -> dict[str, object]:
    """An engine event as the protocol's JSON object (`AudioOut` travels as binary)."""
    return {"type": event.type, **asdict(event)}


async def _user(state: AppState, websocket: WebSocket) -> UserRecord | None:
    token = websocket.query_params.get("token") or websocket.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return await run_blocking(state.tokens.user_of, token)  # one read: off the loop
    except InvalidToken:
        return None


@router.websocket("/ws/conversation")
async def conversation(websocket: WebSocket) -> None:
    state = state_of(websocket.app)
    user = await _user(state, websocket)
    # Accepted before refusing, so that the client sees the policy-violation close code
    # (a refused handshake only shows as an HTTP 403).
    await websocket.accept()
    if user is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="Invalid token")
        return
    try:
        rate = int(websocket.query_params.get("sample_rate", "16000"))
        if not MIN_RATE <= rate <= MAX_RATE:
            raise ValueError
    except ValueError:
        await _refuse(websocket, f"sample_rate must be a number from {MIN_RATE} to {MAX_RATE}.")
        return
    engine = Conversation(
        agent=state.agent,
        vad=state.agent.providers.voice_activity(),
        user=user,
        sample_rate=rate,
        session_id=websocket.query_params.get("session_id") or None,
        channel="ws",
    )
    try:
        await engine.start()
    except OverloadedError as exc:
        await _refuse(websocket, str(exc), code=status.WS_1013_TRY_AGAIN_LATER)
        return
    except AgentError as exc:
        await _refuse(websocket, str(exc))
        return
    sender = asyncio.create_task(_send_events(websocket, engine))
    try:
        await _receive(websocket, engine)
    finally:
        await engine.close()
        with contextlib.suppress(Exception):
            await sender
        if websocket.client_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()


async def _refuse(
    websocket: WebSocket, message: str, code: int = status.WS_1008_POLICY_VIOLATION
) -> None:
    await websocket.send_json({"type": "error", "message": message, "fatal": True})
    await websocket.close(code=code, reason=message[:120])


async def _receive(websocket: WebSocket, engine: Conversation) -> None:
    """Client messages into the engine, until the client leaves or says `end`."""
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        text = message.get("text") or ""
        # Binary audio and text controls alike: past MAX_MESSAGE_BYTES the socket closes with
        # 1009 at once (uvicorn itself only refuses frames over 16 MiB).
        size = len(data) if data is not None else len(text.encode("utf-8"))
        if size > MAX_MESSAGE_BYTES:
            await websocket.close(
                code=status.WS_1009_MESSAGE_TOO_BIG,
                reason=f"A message may be at most {MAX_MESSAGE_BYTES} bytes.",
            )
            return
        if data is not None:
            engine.feed(data)
            continue
        if await _control(websocket, engine, text):
            return


PLAYED_MS = "'played_ms' must be a number of milliseconds from 0 to 86400000."


async def _control(websocket: WebSocket, engine: Conversation, text: str) -> bool:
    """Handle a JSON control message; True when the conversation should end."""
    control = json_object(text)
    kind = control.get("type") if control is not None else None
    if control is None or not isinstance(kind, str):
        await websocket.send_json(
            {"type": "error", "message": "Send JSON with a 'type' field.", "fatal": False}
        )
        return False
    if kind == "interrupt":
        engine.interrupt()
    elif kind == "text" and isinstance(control.get("text"), str) and control["text"].strip():
        engine.text_turn(control["text"][:4000])
    elif kind == "playback" and (played := played_ms(control)) is not None:
        engine.played(played)
    elif kind == "playback":
        await websocket.send_json({"type": "error", "message": PLAYED_MS, "fatal": False})
    elif kind == "end":
        await engine.finish()
        return True
    else:
        await websocket.send_json(
            {"type": "error", "message": f"Unknown control message {kind!r}.", "fatal": False}
        )
    return False


async def _send_events(websocket: WebSocket, engine: Conversation) -> None:
    async for event in engine.events():
        try:
            if isinstance(event, ev.AudioOut):
                await websocket.send_bytes(event.pcm)
            else:
                await websocket.send_json(event_message(event))
            if isinstance(event, ev.Ending):
                # The agent ended the conversation (a goodbye, silence): its last words have
                # played; the socket closes normally, saying why.
                await websocket.close(code=status.WS_1000_NORMAL_CLOSURE, reason=event.reason)
                return
        except (WebSocketDisconnect, RuntimeError):
            return


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def prometheus_metrics() -> Response:
    """Real-time turn latencies per stage, turns and interruptions, for Prometheus."""
    return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
