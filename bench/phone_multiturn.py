"""The phone path on speech that looks like use: bench/multiturn's conversation (pauses inside
sentences, fillers, a 13 s utterance, a barge-in), said by one caller on one call through the
signed webhook and `WS /twilio/media` (8 kHz mu-law, real-time pace, marks acknowledged as the
reply plays).

    python -m bench.phone_multiturn                  # 2 calls of the whole script
    python -m bench.phone_multiturn --calls 1

Per turn: the last voiced frame sent to the first reply `media` frame after it. A false start
is reply audio that arrives while the caller is still saying the line (the agent answered
inside a pause), or a `clear` during a line that is not a barge-in. For the barge-in line: its
first voiced frame to Twilio's `clear`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import asdict, dataclass

import numpy as np

from bench.common import Check, Result, running_server, speech_with_pauses, write_result
from bench.multiturn import BARGE_AFTER_S, BARGE_IN, SCRIPT, TARGET_BARGE_IN_S
from bench.phone_latency import (
    FRAME,
    RATE,
    SILENCE,
    VOICED_RMS,
    Line,
    Measure,
    Utterance,
    media_call,
    phone_settings,
    stats,
)

NAME = "phone_multiturn"
LEAD_FRAMES = 15  # 0.3 s of silence before a line that waits for the answer to end
FIRST_AUDIO_TIMEOUT_S = 20.0
ANSWER_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class PhoneLine:
    barge_in: bool
    utterance: Utterance
    first_voiced: int  # the first frame with speech energy


@dataclass
class PhoneTurn:
    call: int
    index: int
    text: str
    barge_in: bool
    latency_s: float | None = None
    false_starts: int = 0
    barge_in_stop_s: float | None = None


def make_lines() -> list[PhoneLine]:
    """The script spoken by Piper with its pauses (bench.common.speech_with_pauses), at 8 kHz
    in mu-law frames."""
    from tests.telephony.simulator import ulaw_encode

    raw = [line.removeprefix(BARGE_IN) for line in SCRIPT]
    lines = []
    for line, (text, pcm) in zip(SCRIPT, speech_with_pauses(raw, RATE), strict=True):
        samples = np.frombuffer(pcm, dtype="<i2")
        samples = np.concatenate([samples, np.zeros(-len(samples) % FRAME, np.int16)])
        rms = np.sqrt(np.mean((samples.reshape(-1, FRAME) / 32768.0) ** 2, axis=1))
        voiced = np.flatnonzero(rms > VOICED_RMS)
        mulaw = ulaw_encode(samples.astype("<i2").tobytes())
        frames = [mulaw[i : i + FRAME] for i in range(0, len(mulaw), FRAME)]
        utterance = Utterance(text, frames, int(voiced[-1]) + 1 if len(voiced) else 0)
        first = int(voiced[0]) if len(voiced) else 0
        lines.append(PhoneLine(line.startswith(BARGE_IN), utterance, first))
    return lines


async def say(line: Line, said: PhoneLine, turn: PhoneTurn, *, cut: bool) -> None:
    """Say one line on the call and measure its turn; with `cut`, the next line is a
    barge-in, so return BARGE_AFTER_S into this line's answer."""
    if not said.barge_in:  # wait for the answer before to end, then a moment's silence
        while line.playing():
            await line.send(SILENCE)
        for _ in range(LEAD_FRAMES):
            await line.send(SILENCE)
    began = time.perf_counter()
    first_voiced = voiced = began
    for i, frame in enumerate(said.utterance.frames):
        sent = await line.send(frame)
        if i == said.first_voiced:
            first_voiced = sent
        if i == said.utterance.voiced_frames - 1:
            voiced = sent
    while time.perf_counter() - voiced < FIRST_AUDIO_TIMEOUT_S:
        if any(t > voiced for t in line.media_at):
            break
        await line.send(SILENCE)
    after = [t for t in line.media_at if t > voiced]
    turn.latency_s = round(after[0] - voiced, 4) if after else None
    clears = [t for t in line.clears_at if began <= t <= voiced + 0.5]
    if said.barge_in:
        turn.barge_in_stop_s = round(clears[0] - first_voiced, 4) if clears else None
        clears = clears[1:]  # the interruption it meant to make
    # An answer inside a pause: its audio arrives mid-line, then (as the caller goes on) a
    # `clear`; counted once.
    early = not said.barge_in and any(began + 0.3 < t <= voiced for t in line.media_at)
    turn.false_starts = len(clears) or int(early)
    if cut and after:
        while time.perf_counter() - after[0] < BARGE_AFTER_S:
            await line.send(SILENCE)


async def one_call(base_url: str, number: int, lines: list[PhoneLine]) -> list[PhoneTurn]:
    turns: list[PhoneTurn] = []
    async with media_call(base_url, f"+1555020{number:04d}", Measure("call")) as line:
        for _ in range(LEAD_FRAMES):  # Twilio says the greeting (<Say>) before the stream
            await line.send(SILENCE)
        for index, said in enumerate(lines):
            turn = PhoneTurn(number, index, said.utterance.text, said.barge_in)
            cut = index + 1 < len(lines) and lines[index + 1].barge_in
            await say(line, said, turn, cut=cut)
            turns.append(turn)
            latency = f"{turn.latency_s:6.3f} s" if turn.latency_s is not None else "  none  "
            notes = f"  [{turn.false_starts} false start(s)]" if turn.false_starts else ""
            stop = turn.barge_in_stop_s
            notes += f"  [barge-in stopped it after {stop:.3f} s]" if stop is not None else ""
            print(f"  {number}.{index + 1} {latency}  {turn.text[:60]!r}{notes}", flush=True)
        deadline = time.perf_counter() + ANSWER_TIMEOUT_S
        while line.playing() and time.perf_counter() < deadline:
            await line.send(SILENCE)
    return turns


def run(calls: int) -> Result:
    lines = make_lines()
    turns: list[PhoneTurn] = []
    with phone_settings(), running_server() as server:
        for number in range(1, calls + 1):
            print(f"call {number}:")
            turns += asyncio.run(one_call(server.base_url, number, lines))
    answered = [t.latency_s for t in turns if t.latency_s is not None and not t.false_starts]
    figures = stats(answered)
    false_starts = sum(t.false_starts for t in turns)
    barge = [t.barge_in_stop_s for t in turns if t.barge_in_stop_s is not None]
    spread = figures["p95_s"] / figures["p50_s"] if figures["p50_s"] else float("nan")
    print("\n=== phone conversations: last voiced frame -> first reply media frame ===")
    print(
        f"p50 {figures['p50_s']:.3f} s, p95 {figures['p95_s']:.3f} s, max {figures['max_s']:.3f}"
        f" s over {len(answered)} turns answered without a false start, of {len(turns)}"
    )
    print(f"false starts {false_starts}; barge-in stops {barge}; p95/p50 {spread:.2f}")
    res = Result(NAME)
    res.checks += [
        Check("phone: p95 / p50", round(spread, 3), 1.6, "x"),
        Check("phone: false starts on pauses inside sentences", false_starts, 0, "turns"),
        Check(
            "phone: barge-in, first voiced frame -> clear, max",
            max(barge) if barge else float("nan"),
            TARGET_BARGE_IN_S,
            "s",
        ),
    ]
    res.figures = {
        "phone": figures,
        "false_starts": false_starts,
        "barge_in_stop_s": barge,
        "turns": [asdict(t) for t in turns],
    }
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2)
    args = parser.parse_args()
    write_result(run(args.calls))


if __name__ == "__main__":
    main()
