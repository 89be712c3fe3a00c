"""Real-time conversation latency: last voiced frame sent -> first reply audio over
`WS /ws/conversation`, against a sequential pipeline, and with 1, 2 and 4 conversations."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.common import (
    UTTERANCES,
    WARM_UP,
    Check,
    Result,
    Server,
    median,
    percentile,
    register,
    running_server,
    speech_pcm16,
    voiced_end,
    wer,
    write_result,
    ws_url,
)
from bench.first_token import messages_for
from bench.noise import QUIET_SHARE, OtherLoad, report_machine_load, wait_for_quiet

NAME = "latency"
RATE = 16_000
FRAME_MS = 20
FRAME_BYTES = RATE * FRAME_MS // 1000 * 2
SILENCE = bytes(FRAME_BYTES)
LEAD_FRAMES = 25  # 0.5 s of silence before each utterance
FIRST_AUDIO_TIMEOUT_S = 15.0  # after the last voiced frame
TURN_TIMEOUT_S = 60.0  # after the first audio: the answer may be played out in real time
SETTLE_S = 1.5  # a turn with no end of speech after the utterance waits this long for one
MAX_WER = 0.3
TARGET_P50_S = 1.0
TARGET_P95_S = 1.5
TARGET_RATIO = 0.5
QUIET_WAIT_S = 8.0
MAX_RERUNS = 8  # noisy rounds run again, at most this many in all...
RERUN_BUDGET_S = 240.0  # ...and only while the rounds have taken less than this
LEVELS = (1, 2, 4)
PER_CONVERSATION = 3
USER_PASSWORD = "bench-password-123"


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


async def level(urls: Sequence[str], utterances: Sequence[Utterance]) -> list[TurnMeasure]:
    """len(urls) conversations at once, each saying its own PER_CONVERSATION utterances."""
    n = len(utterances)
    plans = [
        [utterances[(i * PER_CONVERSATION + k) % n] for k in range(PER_CONVERSATION)]
        for i in range(len(urls))
    ]
    results = await asyncio.gather(*(talk(u, p) for u, p in zip(urls, plans, strict=True)))
    return [m for conv in results for m in conv]


@dataclass(frozen=True)
class Sequential:
    """One utterance through the non-streaming pipeline, seconds after the last voiced sample."""

    total_s: float  # end of speech + transcription + whole answer + whole synthesis
    stt_s: float
    llm_s: float
    tts_s: float
    heard: str
    answer: str


class SequentialPipeline:
    """Wait for the VAD's stop silence, transcribe, answer in full, speak in full: the server's
    models and prompt, loaded in the bench process, each stage waiting for the one before."""

    def __init__(self) -> None:
        from core.config import Settings
        from core.providers import build_local_llm, build_local_stt
        from core.tts.piper import PiperTTS

        self.settings = Settings()
        self.stop_s = getattr(self.settings, "vad_stop_ms", 400) / 1000
        self.stt = build_local_stt(self.settings)
        self.llm = build_local_llm(self.settings)
        self.tts = PiperTTS()

    def run(self, utterance: Utterance) -> Sequential:
        import numpy as np

        from core.audio import AudioFormat, DecodedAudio
        from core.llm import ChatMessage
        from core.tts.text import speakable

        # What a VAD-driven recorder holds at the end of speech: the lead silence, the
        # utterance up to its last voiced frame, and the stop silence.
        voiced = utterance.pcm[: utterance.voiced_frames * FRAME_BYTES]
        pcm = SILENCE * LEAD_FRAMES + voiced + bytes(int(self.stop_s * RATE) * 2)
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        t0 = time.perf_counter()
        transcript = self.stt.transcribe(DecodedAudio(samples, AudioFormat.WAV))
        t1 = time.perf_counter()
        prompt = messages_for(transcript.text, transcript.language or "en")
        messages = [ChatMessage(m["role"], m["content"]) for m in prompt]
        answer = "".join(self.llm.stream(messages, max_tokens=self.settings.llm_max_tokens))
        t2 = time.perf_counter()
        audio = b"".join(chunk.pcm for chunk in self.tts.synthesize(speakable(answer)))
        t3 = time.perf_counter()
        if not audio:
            raise RuntimeError(f"Piper spoke nothing for the answer {answer!r}")
        times = (self.stop_s + t3 - t0, t1 - t0, t2 - t1, t3 - t2)
        return Sequential(*(round(t, 4) for t in times), transcript.text, answer)


# Report ------------------------------------------------------------------------------------


def stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_s": round(median(values), 3),
        "p95_s": round(percentile(values, 95), 3),
        "max_s": round(max(values), 3) if values else float("nan"),
    }


def tally(measures: Sequence[TurnMeasure]) -> dict[str, Any]:
    # Every turn with reply audio counts, failed or not; the failures are counted too.
    latencies = [m.latency_s for m in measures if m.latency_s is not None]
    return {
        **stats(latencies),
        "turns": len(measures),
        "failed": sum(m.failed for m in measures),
        "false_starts": sum(m.false_starts for m in measures),
        "queued_events": sum(m.queued for m in measures),
    }


def stage_medians(measures: Sequence[TurnMeasure]) -> dict[str, float]:
    ok = [m for m in measures if m.latency_s is not None]
    client = {
        "client_speech_stopped_s": [m.stopped_s for m in ok],
        "client_final_transcript_s": [m.transcript_s for m in ok],
        "client_first_delta_s": [m.first_delta_s for m in ok],
        "client_first_audio_s": [m.latency_s for m in ok],
        "vad_lag_ms": [m.vad_lag_ms for m in ok],
    }
    out = {k: round(median([v for v in vs if v is not None]), 3) for k, vs in client.items()}
    keys = sorted({k for m in ok for k, v in m.timings.items() if isinstance(v, int | float)})
    for key in keys:
        values = [m.timings[key] for m in ok if isinstance(m.timings.get(key), int | float)]
        out[f"server_{key}"] = round(median(values), 1)
    return out


def print_report(
    engine: Sequence[TurnMeasure],
    sequential: Sequence[Sequential],
    levels: dict[int, list[TurnMeasure]],
) -> None:
    main, seq = tally(engine), stats([s.total_s for s in sequential])
    print("\n=== last voiced frame -> first reply audio ===")
    print(f"{'':28}{'p50':>8}{'p95':>8}{'max':>8}{'n':>4}   target")
    print(
        f"{'engine (WebSocket)':28}{main['p50_s']:8.3f}{main['p95_s']:8.3f}"
        f"{main['max_s']:8.3f}{main['count']:4d}   p50 <= {TARGET_P50_S:g} s, "
        f"p95 <= {TARGET_P95_S:g} s"
    )
    print(
        f"{'sequential pipeline':28}{seq['p50_s']:8.3f}{seq['p95_s']:8.3f}"
        f"{seq['max_s']:8.3f}{seq['count']:4d}"
    )
    print(f"ratio engine p50 / sequential p50: {main['p50_s'] / seq['p50_s']:.2f}")
    print(f"failed turns {main['failed']} of {main['turns']}, false starts {main['false_starts']}")
    print("\n=== stages, medians (engine: after the last voiced frame) ===")
    for key, value in stage_medians(engine).items():
        print(f"  {key:34}{value:10.3f}" if key.endswith("_s") else f"  {key:34}{value:10.1f}")
    stop = median([s.total_s - s.stt_s - s.llm_s - s.tts_s for s in sequential])
    stt, llm, tts = (
        median([getattr(s, k) for s in sequential]) for k in ("stt_s", "llm_s", "tts_s")
    )
    print(
        f"  sequential: stop silence {stop:.3f}, stt {stt:.3f}, whole answer {llm:.3f}, "
        f"whole synthesis {tts:.3f} s"
    )
    print("\n=== simultaneous conversations ===")
    print(f"{'conversations':>14}{'p50':>8}{'p95':>8}{'max':>8}{'n':>4}{'failed':>8}{'false':>7}")
    for n, measures in levels.items():
        t = tally(measures)
        print(
            f"{n:14d}{t['p50_s']:8.3f}{t['p95_s']:8.3f}{t['max_s']:8.3f}{t['count']:4d}"
            f"{t['failed']:8d}{t['false_starts']:7d}"
        )


# Run ---------------------------------------------------------------------------------------


def run() -> Result:
    load: dict[str, Any] = {**report_machine_load()}
    utterances = make_utterances([WARM_UP, *UTTERANCES])
    warm_up, measured = utterances[0], utterances[1:]
    print(
        f"{len(measured)} utterances of {min(u.seconds for u in measured):.1f}-"
        f"{max(u.seconds for u in measured):.1f} s (Piper, {RATE} Hz); loading the models..."
    )
    pipeline = SequentialPipeline()
    print(f"Sequential pipeline: end of speech = last voiced sample + {pipeline.stop_s:.3f} s")

    # Up to 4 conversations at once below: above the 3 this machine holds by default.
    with running_server(env={"MAX_CONVERSATIONS": str(max(LEVELS))}) as server:
        url = ws_url(server, "/ws/conversation", token=server.token, sample_rate=RATE)
        pids = [os.getpid(), server.pid]
        first = asyncio.run(talk(url, [warm_up]))[0]
        print(f"warm-up engine: {first.line()}")
        print(f"warm-up sequential: {pipeline.run(warm_up).total_s:.3f} s")

        engine: list[TurnMeasure] = []
        sequential: list[Sequential] = []
        shares: list[float] = []
        reruns = 0
        i = 0
        started = time.monotonic()
        while i < len(measured):
            wait_for_quiet(QUIET_WAIT_S)
            others = OtherLoad(pids)
            # Alternate which goes first; a new session each time, so the prompts match.
            if i % 2 == 0:
                turn = asyncio.run(talk(url, [measured[i]]))[0]
                seq = pipeline.run(measured[i])
            else:
                seq = pipeline.run(measured[i])
                turn = asyncio.run(talk(url, [measured[i]]))[0]
            share = others.share()
            print(
                f"{i + 1:2d}/{len(measured)} engine {turn.line()}\n"
                f"      sequential {seq.total_s:6.3f} s (stt {seq.stt_s:.2f}, answer "
                f"{seq.llm_s:.2f}, speech {seq.tts_s:.2f}) heard {seq.heard!r}"
            )
            in_budget = time.monotonic() - started < RERUN_BUDGET_S
            if share > QUIET_SHARE and reruns < MAX_RERUNS and in_budget:
                reruns += 1
                print(f"  (round run again: other processes used {share:.0%} of the machine)")
                continue
            if i >= 2 and all(m.latency_s is None for m in engine[-2:] + [turn]):
                raise RuntimeError(
                    f"Three turns in a row without reply audio; server log:\n{server.log_tail()}"
                )
            engine.append(turn)
            sequential.append(seq)
            shares.append(share)
            i += 1

        levels, level_shares = concurrency(server, measured, pids)

    print_report(engine, sequential, levels)
    print(
        f"\nother processes' share of the machine per kept round: "
        f"{', '.join(f'{s:.0%}' for s in shares)}; {reruns} round(s) run again, "
        f"{sum(s > QUIET_SHARE for s in shares)} kept noisy"
    )
    load["other_processes_cpu_share_per_level"] = level_shares
    return result(engine, sequential, levels, shares, reruns, load)


def concurrency(
    server: Server, utterances: Sequence[Utterance], pids: Sequence[int]
) -> tuple[dict[int, list[TurnMeasure]], dict[str, float]]:
    """Each level: that many users, each in its own conversation, all speaking at once."""
    tokens = [register(server.base_url, f"bench-latency-{i}", USER_PASSWORD) for i in range(4)]
    urls = [ws_url(server, "/ws/conversation", token=t, sample_rate=RATE) for t in tokens]
    levels: dict[int, list[TurnMeasure]] = {}
    shares: dict[str, float] = {}
    for n in LEVELS:
        wait_for_quiet(QUIET_WAIT_S)
        others = OtherLoad(pids)
        levels[n] = asyncio.run(level(urls[:n], utterances))
        shares[str(n)] = round(others.share(), 3)
        print(f"\n{n} conversation(s) at once (other processes {shares[str(n)]:.0%}):")
        for m in levels[n]:
            print(f"   {m.line()}")
    return levels, shares


def result(
    engine: list[TurnMeasure],
    sequential: list[Sequential],
    levels: dict[int, list[TurnMeasure]],
    shares: list[float],
    reruns: int,
    load: dict[str, Any],
) -> Result:
    main, seq = tally(engine), stats([s.total_s for s in sequential])
    ratio = main["p50_s"] / seq["p50_s"]
    problems = main["failed"] + main["false_starts"]
    res = Result(NAME)
    res.checks += [
        Check("first reply audio after last voiced frame, p50", main["p50_s"], TARGET_P50_S, "s"),
        Check("first reply audio after last voiced frame, p95", main["p95_s"], TARGET_P95_S, "s"),
        Check("engine p50 / sequential pipeline p50", round(ratio, 3), TARGET_RATIO, "x"),
        Check("false starts and failed turns", problems, 0, "turns"),
    ]
    res.figures = {
        **load,
        "other_processes_cpu_share": [round(s, 3) for s in shares],
        "rounds_run_again_for_noise": reruns,
        "rounds_kept_noisy": sum(s > QUIET_SHARE for s in shares),
        "engine": main,
        "sequential": seq,
        "ratio_of_p50s": round(ratio, 3),
        "stages": stage_medians(engine),
        "sequential_stages_median_s": {
            k: round(median([getattr(s, k) for s in sequential]), 3)
            for k in ("stt_s", "llm_s", "tts_s")
        },
        "concurrency": {str(n): tally(ms) for n, ms in levels.items()},
        "turns": [{**asdict(m), "wer": round(m.wer, 3)} for m in engine],
        "sequential_turns": [asdict(s) for s in sequential],
        "concurrent_turns": {
            str(n): [{**asdict(m), "wer": round(m.wer, 3)} for m in ms] for n, ms in levels.items()
        },
    }
    return res


def main() -> None:
    write_result(run())


if __name__ == "__main__":
    main()
