"""The latency benches' `WS /ws/conversation` client: real-time speech out, timed turns in."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.common import speech_pcm16, voiced_end, wer

RATE = 16_000
FRAME_MS = 20
FRAME_BYTES = RATE * FRAME_MS // 1000 * 2
SILENCE = bytes(FRAME_BYTES)
LEAD_FRAMES = 25  # 0.5 s of silence before each utterance
FIRST_AUDIO_TIMEOUT_S = 15.0  # after the last voiced frame
TURN_TIMEOUT_S = 60.0  # after the first audio: the answer may be played out in real time
SETTLE_S = 1.5  # a turn with no end of speech after the utterance waits this long for one
MAX_WER = 0.3


@dataclass(frozen=True)
class Utterance:
    text: str
    pcm: bytes  # 16 kHz PCM16, padded to whole frames
    voiced_frames: int  # frames up to and including the last one with speech energy

    @property
    def frames(self) -> list[bytes]:
        return [self.pcm[i : i + FRAME_BYTES] for i in range(0, len(self.pcm), FRAME_BYTES)]

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / RATE


def make_utterances(texts: Sequence[str]) -> list[Utterance]:
    utterances = []
    for text, pcm in zip(texts, speech_pcm16(texts, RATE), strict=True):
        pcm += bytes(-len(pcm) % FRAME_BYTES)
        utterances.append(Utterance(text, pcm, voiced_end(pcm, RATE, frame_ms=FRAME_MS)))
    return utterances


@dataclass
class TurnMeasure:
    """One utterance through the engine, times in seconds after the last voiced frame was sent."""

    text: str
    latency_s: float | None = None  # first reply audio received
    stopped_s: float | None = None  # `speech_stopped` received
    transcript_s: float | None = None  # final `transcript` received
    first_delta_s: float | None = None  # first `answer` delta received
    vad_lag_ms: float | None = None  # speech_stopped.at_ms - end of voiced audio (audio time)
    timings: dict[str, float] = field(default_factory=dict)  # the server's, from `turn`
    heard: str = ""
    answer: str = ""
    audio_s: float = 0.0  # reply audio received for the turn
    interrupted: int = 0  # `interrupted` events during this utterance
    extra_turns: int = 0  # turns stored besides the answer to the whole utterance
    resumed: int = 0  # answers withdrawn unheard: the speaker went on before any audio
    queued: int = 0
    close_code: int | None = None  # a conversation's last turn: close code after `end`, -1 none
    errors: list[str] = field(default_factory=list)  # `error` events and missing answers

    @property
    def wer(self) -> float:
        return wer(self.text, self.heard)

    @property
    def false_starts(self) -> int:
        return self.interrupted + self.extra_turns

    @property
    def failed(self) -> bool:
        """No reply audio, a failure, or an answer to words the user did not say."""
        return self.latency_s is None or bool(self.errors) or self.wer > MAX_WER

    def line(self) -> str:
        def at(value: float | None) -> str:
            return f"{value:+.2f}" if value is not None else "  -  "

        latency = f"{self.latency_s:6.3f} s" if self.latency_s is not None else "  none  "
        notes = [f"{self.false_starts} false start(s)"] if self.false_starts else []
        notes += [f"{self.resumed} withdrawn unheard"] if self.resumed else []
        notes += [f"queued {self.queued}"] if self.queued else []
        notes += [f"WER {self.wer:.2f}"] if self.wer > MAX_WER else []
        notes += self.errors
        notes += [f"closed with {self.close_code}"] if self.close_code not in (None, 1000) else []
        return (
            f"{latency} (stop {at(self.stopped_s)}, text {at(self.transcript_s)}, "
            f"token {at(self.first_delta_s)})  {self.heard!r} -> {self.answer[:48]!r}"
            + (f"  [{'; '.join(notes)}]" if notes else "")
        )


class Conversation:
    """One WebSocket conversation: audio paced in real time out, timestamped events in."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.first_audio: dict[Any, float] = {}  # turn_id -> first binary message after start
        self.audio_s: dict[Any, float] = {}  # turn_id -> seconds of reply audio received
        self.play_end = 0.0  # when the reply audio received so far would finish playing
        self._turn: Any = None  # the turn whose audio is arriving
        self._awaiting_audio = False
        self._rate = 22_050
        self.close_code: int | None = None
        self._t0: float | None = None
        self.frames_sent = 0

    async def receive(self) -> None:
        async for message in self.ws:
            now = time.perf_counter()
            if isinstance(message, bytes):
                if self._awaiting_audio:
                    self.first_audio.setdefault(self._turn, now)
                    self._awaiting_audio = False
                seconds = len(message) / 2 / self._rate
                self.audio_s[self._turn] = self.audio_s.get(self._turn, 0.0) + seconds
                self.play_end = max(self.play_end, now) + seconds  # played back to back
                continue
            event = json.loads(message)
            self.events.append((now, event))
            if event.get("type") == "audio_start":
                self._turn, self._awaiting_audio = event.get("turn_id"), True
                self._rate = int(event.get("sample_rate") or self._rate)
            elif event.get("type") == "interrupted":
                self.play_end = now  # a client stops playing at once

    async def send(self, frame: bytes) -> float:
        """Send one frame at its real-time slot (no drift); return when it was sent."""
        if self._t0 is None:
            self._t0 = time.perf_counter()
        delay = self._t0 + self.frames_sent * FRAME_MS / 1000 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await self.ws.send(frame)
        self.frames_sent += 1
        return time.perf_counter()

    def _of(self, start: int, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, e) for t, e in self.events[start:] if e.get("type") == kind]

    def _final_turn(self, start: int, voiced: float) -> tuple[float, dict[str, Any]] | None:
        """The turn answering the whole utterance: the first after the end of speech the
        server decided after the last voiced frame (an earlier end was a pause mid-turn)."""
        stops = [t for t, _ in self._of(start, "speech_stopped") if t >= voiced]
        after = stops[0] if stops else voiced
        turns = [(t, e) for t, e in self._of(start, "turn") if t >= after]
        if not turns:
            return None
        if stops or time.perf_counter() - turns[0][0] >= SETTLE_S:
            return turns[0]
        return None

    async def say(
        self,
        utterance: Utterance,
        *,
        lead: bool = True,
        events_from: int | None = None,
        interrupt_after_s: float | None = None,
    ) -> TurnMeasure:
        """Silence (unless not `lead`), the utterance, then silence until its turn is stored
        (or a timeout). With `interrupt_after_s`, return that long after the first reply
        audio instead, while the answer still plays: the next utterance barges in."""
        start = len(self.events) if events_from is None else events_from
        for _ in range(LEAD_FRAMES if lead else 0):
            await self.send(SILENCE)
        voiced_end_ms = (self.frames_sent + utterance.voiced_frames) * FRAME_MS
        voiced = time.perf_counter()
        for i, frame in enumerate(utterance.frames):
            sent = await self.send(frame)
            if i == utterance.voiced_frames - 1:
                voiced = sent
        final = None
        while final is None:
            waited = time.perf_counter() - voiced
            audio = [t for t in self.first_audio.values() if t >= voiced]
            if waited > (TURN_TIMEOUT_S if audio else FIRST_AUDIO_TIMEOUT_S):
                break
            await self.send(SILENCE)  # the microphone stays open while the answer plays
            if (
                interrupt_after_s is not None
                and audio
                and (time.perf_counter() >= min(audio) + interrupt_after_s)
            ):
                return self._cut_short(utterance, start, voiced, voiced_end_ms, min(audio))
            final = self._final_turn(start, voiced)
        # Let the answer play out (it may arrive faster than real time): no barge-in.
        deadline = voiced + FIRST_AUDIO_TIMEOUT_S + TURN_TIMEOUT_S
        while time.perf_counter() < min(self.play_end, deadline):
            await self.send(SILENCE)
        return self._measure(utterance, start, voiced, voiced_end_ms, final)

    def _cut_short(
        self, utterance: Utterance, start: int, voiced: float, voiced_end_ms: int, audio: float
    ) -> TurnMeasure:
        """A turn left while its answer plays: measured up to its first audio."""
        m = self._measure(utterance, start, voiced, voiced_end_ms, None)
        m.errors = [e for e in m.errors if not e.startswith("no answer")]
        m.extra_turns = 0
        m.latency_s = round(audio - voiced, 4)
        finals = [(t, e) for t, e in self._of(start, "transcript") if e.get("final")]
        if finals:
            m.heard = finals[-1][1].get("text") or ""
            m.transcript_s = round(finals[-1][0] - voiced, 4)
            deltas = [t for t, e in self._of(start, "answer") if t >= finals[-1][0]]
            m.first_delta_s = round(deltas[0] - voiced, 4) if deltas else None
        stops = [t for t, _ in self._of(start, "speech_stopped") if t >= voiced]
        m.stopped_s = round(stops[0] - voiced, 4) if stops else None
        return m

    def _measure(
        self,
        utterance: Utterance,
        start: int,
        voiced: float,
        voiced_end_ms: int,
        final: tuple[float, dict[str, Any]] | None,
    ) -> TurnMeasure:
        m = TurnMeasure(utterance.text)
        m.interrupted = len(self._of(start, "interrupted"))
        m.resumed = len(self._of(start, "resumed"))
        m.queued = len(self._of(start, "queued"))
        m.errors = [f"error: {e.get('message')}" for _, e in self._of(start, "error")]
        turns = self._of(start, "turn")
        if final is None:
            m.extra_turns = len(turns)
            m.errors.append(f"no answer (events: {self.kinds(start)})")
            return m
        t_turn, turn = final
        m.extra_turns = len(turns) - 1
        m.heard, m.answer = turn.get("user_text") or "", turn.get("answer") or ""
        m.timings = {k: v for k, v in (turn.get("timings") or {}).items() if v is not None}
        first_audio = self.first_audio.get(turn.get("turn_id"))
        m.audio_s = round(self.audio_s.get(turn.get("turn_id"), 0.0), 3)
        if first_audio is None:
            m.errors.append("turn without audio")
        else:
            m.latency_s = round(first_audio - voiced, 4)
        after = [(t, e) for t, e in self.events[start:] if voiced <= t <= t_turn]
        stops = [(t, e) for t, e in after if e.get("type") == "speech_stopped"]
        if stops:
            m.stopped_s = round(stops[0][0] - voiced, 4)
            if isinstance(stops[0][1].get("at_ms"), int | float):
                m.vad_lag_ms = stops[0][1]["at_ms"] - voiced_end_ms
        finals = [t for t, e in after if e.get("type") == "transcript" and e.get("final")]
        if finals:
            m.transcript_s = round(finals[-1] - voiced, 4)
            deltas = [t for t, e in after if e.get("type") == "answer" and t >= finals[-1]]
            m.first_delta_s = round(deltas[0] - voiced, 4) if deltas else None
        return m

    def kinds(self, start: int = 0) -> str:
        return " ".join(e.get("type", "?") for _, e in self.events[start:]) or "none"


@contextlib.asynccontextmanager
async def conversation(url: str) -> AsyncIterator[Conversation]:
    """Connect, wait for `ready`, receive in the background; finish with `end` on exit."""
    from websockets.asyncio.client import connect

    async with connect(url, max_size=2**24, ping_interval=None, open_timeout=10) as ws:
        ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if ready.get("type") != "ready" or ready.get("input_sample_rate") != RATE:
            raise RuntimeError(f"Expected a `ready` event at {RATE} Hz, got {ready}")
        conv = Conversation(ws)
        receiver = asyncio.create_task(conv.receive())
        try:
            yield conv
            await ws.send(json.dumps({"type": "end"}))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(receiver), 10)
            conv.close_code = ws.close_code
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver


async def talk(url: str, utterances: Sequence[Utterance]) -> list[TurnMeasure]:
    """One conversation saying `utterances` in turn; late events count against the last."""
    async with conversation(url) as conv:
        measures = [await conv.say(u) for u in utterances]
        mark = len(conv.events)
    late = conv.events[mark:]
    measures[-1].close_code = conv.close_code if conv.close_code is not None else -1
    kinds = [e.get("type") for _, e in late]
    measures[-1].extra_turns += kinds.count("turn")
    measures[-1].interrupted += kinds.count("interrupted")
    measures[-1].errors += [
        f"error: {e.get('message')}" for _, e in late if e.get("type") == "error"
    ]
    return measures
