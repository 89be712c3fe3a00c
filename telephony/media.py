"""`WS /twilio/media`: one bidirectional Twilio Media Stream driving the real-time engine.

Twilio sends `connected`, `start` (the call, the stream and our signed `<Parameter>`s),
`media` (20 ms of 8 kHz mu-law, base64), `mark` (a mark we sent has been played, or cleared),
`dtmf` and `stop`. We send `media` back (the agent's voice, same format), a `mark` after each
piece, and `clear` when the caller speaks over the agent. Marks Twilio hands back tell the
engine how much of an answer the caller actually heard.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect, status
from starlette.websockets import WebSocketState

from core.callers import CHANNEL
from core.concurrency import run_blocking
from core.errors import AgentError
from core.realtime import events as ev
from core.realtime.controls import json_object
from core.realtime.engine import Conversation
from telephony.mulaw import FRAME_MS, RATE, MulawDecoder, MulawEncoder
from telephony.signature import SETTINGS_HEADER, SIGNATURE_HEADER, NotConfigured
from telephony.state import Phone
from telephony.tickets import StreamIdentity

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024  # a real message is ~300 bytes; a 20 ms media frame ~250
START_TIMEOUT_S = 10.0  # Twilio sends `start` right after `connected`
ENCODING = "audio/x-mulaw"
_SEND_ERRORS = (WebSocketDisconnect, RuntimeError, OSError)


async def serve(websocket: WebSocket, phone: Phone) -> None:
    """Check the handshake's signature, then run the stream until it stops or dies."""
    try:
        signatures = phone.signatures()
    except NotConfigured as exc:
        logger.error("Refused a Twilio media stream: %s", exc)
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)  # before accept: HTTP 403
        return
    headers = websocket.headers
    if not signatures.stream_valid(headers.get(SIGNATURE_HEADER), headers.get(SETTINGS_HEADER)):
        logger.warning("Refused a media stream without a valid %s header", SIGNATURE_HEADER)
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        return
    await websocket.accept()
    await MediaStream(websocket, phone).run()


@dataclass
class _Speech:
    """The answer whose audio is going out: its encoder and how much of it has been sent."""

    turn_id: int
    sample_rate: int
    encoder: MulawEncoder
    received_ms: float = 0.0  # of the engine's audio, in its own time line
    sent_ms: float = 0.0  # of mu-law frames sent to Twilio


class MediaStream:
    """One call's stream: Twilio's messages into the engine, the engine's events out."""

    def __init__(self, websocket: WebSocket, phone: Phone) -> None:
        self.ws = websocket
        self.phone = phone
        self.stream_sid = ""
        self.call_sid = ""
        self.engine: Conversation | None = None
        self._decoder = MulawDecoder()
        self._speech: _Speech | None = None  # the answer being sent
        self._heard_turn: int | None = None  # the answer whose acknowledged marks count
        self._ended = False  # `stop` came or the socket died: nothing more goes out

    async def run(self) -> None:
        engine = await self._start()
        if engine is None:
            await self._close(status.WS_1000_NORMAL_CLOSURE)  # unless already closed, refused
            return
        sender = asyncio.create_task(self._send_events(engine))
        try:
            await self._receive(engine)
        finally:
            # Closing mid-answer stores what the caller heard (the engine's `Interrupted`);
            # the call is over, so no `clear` or more audio is sent for it.
            self._ended = True
            await engine.close()
            with contextlib.suppress(Exception):
                await sender
            await self._close(status.WS_1000_NORMAL_CLOSURE)
            await self.phone.calls.aio.update_call(call_sid=self.call_sid, clear_stream=True)
            logger.info("Media stream of call %s ended", self.call_sid)

    # Twilio to us --------------------------------------------------------------------

    async def _next(self) -> dict[str, Any] | None:
        """The next JSON message, or None once the socket is gone (or closed for a message
        over the size limit)."""
        while True:
            try:
                message = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return None
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            size = len(text.encode()) if text is not None else len(message.get("bytes") or b"")
            if size > MAX_MESSAGE_BYTES:
                logger.warning("Closing media stream %s: a %d-byte message", self.call_sid, size)
                await self._close(status.WS_1009_MESSAGE_TOO_BIG, "Message too big")
                return None
            if text is None:
                continue  # Twilio only sends text messages
            parsed = json_object(text)
            if parsed is not None:
                return parsed
            logger.debug("Ignoring a media stream message that is not a JSON object")

    async def _start(self) -> Conversation | None:
        """Wait for `start`, verify the call's ticket, start the engine on the call's session."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while True:
            try:
                message = await asyncio.wait_for(self._next(), deadline - loop.time())
            except TimeoutError:
                await self._close(status.WS_1008_POLICY_VIOLATION, "No start message")
                return None
            if message is None or message.get("event") == "stop":
                return None
            if message.get("event") == "start":
                break
            # `connected`, and anything before `start`, carries nothing to act on.
        start = message.get("start")
        start = start if isinstance(start, dict) else {}
        identity = await self._identity(message, start)
        if identity is None:
            await self._close(status.WS_1008_POLICY_VIOLATION, "Invalid call ticket")
            return None
        media_format = start.get("mediaFormat") or {}
        if media_format and (
            media_format.get("encoding") != ENCODING or media_format.get("sampleRate") != RATE
        ):
            logger.warning("Refused media stream %s: format %s", self.call_sid, media_format)
            await self._close(status.WS_1003_UNSUPPORTED_DATA, "Unsupported media format")
            return None
        user = await self.phone.store.aio.find_user(user_id=identity.user_id)
        if user is None:
            await self._close(status.WS_1008_POLICY_VIOLATION, "Unknown caller")
            return None
        await self.phone.calls.aio.update_call(
            call_sid=self.call_sid, status="in-progress", stream_sid=self.stream_sid
        )
        engine = Conversation(
            agent=self.phone.agent,
            vad=self.phone.agent.providers.voice_activity(),
            user=user,
            sample_rate=RATE,
            session_id=identity.session_id,
            channel=CHANNEL,
            keypad=True,
        )
        # From a successful start on, nothing may fail before `run` owns the engine (and
        # closes it): a started engine holds one of the MAX_CONVERSATIONS places.
        try:
            await engine.start()
        except AgentError as exc:
            logger.warning("Media stream %s could not start: %s", self.call_sid, exc)
            await self._close(status.WS_1011_INTERNAL_ERROR, "The session cannot be opened")
            return None
        self.engine = engine
        logger.info("Media stream of call %s started, session %s", self.call_sid, engine.session_id)
        return engine

    async def _identity(
        self, message: dict[str, Any], start: dict[str, Any]
    ) -> StreamIdentity | None:
        stream_sid = message.get("streamSid") or start.get("streamSid")
        call_sid = start.get("callSid")
        params = start.get("customParameters")
        if not isinstance(stream_sid, str) or not isinstance(call_sid, str):
            logger.warning("Refused a media stream: its start message lacks the call or stream")
            return None
        params = params if isinstance(params, dict) else {}
        identity = await run_blocking(self.phone.tickets.verify, params, call_sid)
        if identity is None:
            logger.warning("Refused media stream of call %s: invalid or used ticket", call_sid)
            return None
        self.stream_sid, self.call_sid = stream_sid, call_sid
        return identity

    async def _receive(self, engine: Conversation) -> None:
        while (message := await self._next()) is not None:
            event = message.get("event")
            if event == "media":
                self._media(engine, message.get("media"))
            elif event == "mark":
                self._mark(engine, message.get("mark"))
            elif event == "dtmf":
                # Digits for a tool reading the keypad; otherwise a keypress stops the agent.
                dtmf = message.get("dtmf")
                digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
                logger.debug("Keypress on call %s", self.call_sid)
                engine.keypress(digit if isinstance(digit, str) else "")
            elif event == "stop":
                return

    def _media(self, engine: Conversation, media: object) -> None:
        if not isinstance(media, dict) or media.get("track", "inbound") != "inbound":
            return
        payload = media.get("payload")
        if not isinstance(payload, str):
            return
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return
        engine.feed(self._decoder(audio))

    def _mark(self, engine: Conversation, mark: object) -> None:
        """A mark came back: the audio before it has played (or was cleared; those of an
        answer already interrupted no longer count)."""
        name = mark.get("name") if isinstance(mark, dict) else None
        if not isinstance(name, str):
            return
        turn, _, played = name.partition(":")
        if self._heard_turn is None or turn != str(self._heard_turn):
            return
        with contextlib.suppress(ValueError):
            engine.played(float(played))

    # Us to Twilio --------------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        await self.ws.send_text(json.dumps(message, separators=(",", ":")))

    async def _send_events(self, engine: Conversation) -> None:
        async for event in engine.events():
            if self._ended:
                continue
            try:
                if isinstance(event, ev.AudioStart):
                    encoder = MulawEncoder(event.sample_rate)
                    self._speech = _Speech(event.turn_id, event.sample_rate, encoder)
                    self._heard_turn = event.turn_id
                elif isinstance(event, ev.AudioOut):
                    await self._send_audio(event.pcm)
                elif isinstance(event, ev.AudioEnd):
                    await self._end_audio()
                elif isinstance(event, ev.Interrupted):
                    await self._clear()
                elif isinstance(event, ev.TurnComplete):
                    logger.info("Call %s: turn %s answered", self.call_sid, event.turn_id)
                elif isinstance(event, ev.ToolUsed) and event.ok is not None:
                    logger.info("Call %s: tool %s (ok: %s)", self.call_sid, event.name, event.ok)
                elif isinstance(event, ev.Ending):
                    await self._end_call(event)
                    return
                elif isinstance(event, ev.ErrorEvent):
                    logger.warning("Call %s: %s", self.call_sid, event.message)
            except _SEND_ERRORS:
                return

    async def _send_audio(self, pcm: bytes) -> None:
        speech = self._speech
        if speech is None:
            return  # cleared: what is left of that answer is dropped
        speech.received_ms += len(pcm) / 2 / speech.sample_rate * 1000
        await self._send_frames(speech, speech.encoder.feed(pcm), final=False)

    async def _end_audio(self) -> None:
        speech = self._speech
        if speech is None:
            return
        self._speech = None
        await self._send_frames(speech, speech.encoder.flush(), final=True)

    async def _send_frames(self, speech: _Speech, frames: list[bytes], *, final: bool) -> None:
        """Send 20 ms media frames, then a mark naming how much of the answer precedes it.

        The mark counts in the engine's time line: the last one says "all of it" (the padding
        of the last frame included), so the engine knows the answer finished playing.
        """
        for frame in frames:
            payload = base64.b64encode(frame).decode("ascii")
            await self._send(
                {"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}}
            )
        speech.sent_ms += len(frames) * FRAME_MS
        if not frames and not final:
            return
        heard = speech.received_ms + FRAME_MS if final else min(speech.sent_ms, speech.received_ms)
        name = f"{speech.turn_id}:{heard:.0f}"
        await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    async def _end_call(self, ending: ev.Ending) -> None:
        """The agent ended the call: note how, then close the stream; Twilio then asks
        `/twilio/after-stream` (`<Connect action>`) whether to transfer or hang up."""
        await self.phone.calls.aio.update_call(call_sid=self.call_sid, ending=ending.reason)
        logger.info("Call %s: the agent ends the stream (%s)", self.call_sid, ending.reason)
        await self._close(status.WS_1000_NORMAL_CLOSURE, f"Call {ending.reason}")

    async def _clear(self) -> None:
        """The caller spoke over the agent: Twilio drops the audio it has not played yet."""
        self._speech = None
        self._heard_turn = None
        await self._send({"event": "clear", "streamSid": self.stream_sid})
        logger.info("Call %s: the caller interrupted the agent", self.call_sid)

    async def _close(self, code: int, reason: str = "") -> None:
        if (
            self.ws.client_state is WebSocketState.CONNECTED
            and self.ws.application_state is WebSocketState.CONNECTED
        ):
            with contextlib.suppress(*_SEND_ERRORS):
                await self.ws.close(code=code, reason=reason)
