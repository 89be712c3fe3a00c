"""Latency on speech that looks like use: whole conversations on one WebSocket, utterances
with mid-sentence pauses and fillers, long utterances, and barge-ins on the agent's answer.

    python -m bench.multiturn                 # 3 conversations of the script below
    python -m bench.multiturn --conversations 1

Each utterance is spoken by Piper as one sentence and cut at the pauses written in the script
("|0.7|" is 0.7 s of silence, put in at the nearest boundary between words, so the voice
keeps its mid-sentence tone up to the pause), then streamed at real-time pace
on the same connection, turn after turn. A barge-in turn starts while the previous answer is
still playing. Per turn: the last voiced frame to the first reply audio, and its stages
(end of speech, transcript, first token); false starts (the agent answering inside the
speaker's own pause and heard, seen as `interrupted` or an extra stored turn; an answer
withdrawn before any of its audio was sent, `resumed`, is counted apart); for a barge-in, the
first voiced frame to `interrupted`. The sequential pipeline of bench/latency (end of speech,
then transcription, then the whole answer, then the whole speech) hears every utterance in
the same run, so its p50 gives the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from bench.common import (
    Check,
    Result,
    median,
    running_server,
    speech_with_pauses,
    voiced_end,
    write_result,
    ws_url,
)
from bench.latency import stats
from bench.sequential import SequentialPipeline
from bench.ws_client import (
    FRAME_BYTES,
    FRAME_MS,
    RATE,
    Conversation,
    TurnMeasure,
    Utterance,
    conversation,
)

NAME = "multiturn"
BARGE_IN = ">>"  # a line starting with this is said over the previous answer
BARGE_AFTER_S = 1.0  # ...this long after that answer's first audio
TARGET_RATIO = 0.6  # p50 first audio / sequential p50 (issue 12)
TARGET_SPREAD = 1.6  # p95 / p50
TARGET_BARGE_IN_S = 0.3

# Six or more turns; pauses of 0.3-0.9 s inside sentences, fillers, a 10-15 s utterance.
SCRIPT = (
    "Um, |0.6| what is the capital of France?",
    "And, |0.5| how many people live there?",
    "So... |0.7| I was reading about the solar system yesterday, |0.8| and I started to "
    "wonder which planet is the largest one, |0.5| and whether it has a lot of moons, "
    "|0.4| because I remember that some of them are bigger than our own moon.",
    "Can you tell me |0.8| how many legs a spider has?",
    "Tell me a long story about a brave little dragon who learns to fly.",
    ">>Wait, stop. |0.4| What is two plus two?",
    "Okay. |0.3| Thank you, |0.5| that is all for today.",
)


@dataclass(frozen=True)
class Line:
    text: str  # what is said, pauses removed (the WER reference)
    barge_in: bool
    utterance: Utterance


def make_lines(script: Sequence[str]) -> list[Line]:
    """Each line spoken by Piper as one sentence, cut at its pause marks, padded to whole
    frames (bench.common.speech_with_pauses: the voice keeps its mid-sentence tone)."""
    lines = []
    raw = [line.removeprefix(BARGE_IN) for line in script]
    for line, (text, pcm) in zip(script, speech_with_pauses(raw, RATE), strict=True):
        pcm += bytes(-len(pcm) % FRAME_BYTES)
        utterance = Utterance(text, pcm, voiced_end(pcm, RATE, frame_ms=FRAME_MS))
        lines.append(Line(text, line.startswith(BARGE_IN), utterance))
    return lines


@dataclass
class Turn:
    conversation: int
    index: int
    measure: TurnMeasure
    seconds: float  # length of the utterance
    barge_in: bool
    barge_in_stop_s: float | None = None  # first voiced frame -> `interrupted`


async def say_over(conv: Conversation, line: Line) -> tuple[TurnMeasure, float | None]:
    """Say `line` over the answer that is playing: no lead silence; the time from its first
    voiced frame to the server's `interrupted`, then the turn measured as usual."""
    start = len(conv.events)
    first_voiced = None
    voiced_start = next((i for i, f in enumerate(line.utterance.frames) if f.strip(b"\0")), 0)
    for i, frame in enumerate(line.utterance.frames[: voiced_start + 1]):
        sent = await conv.send(frame)
        if i == voiced_start:
            first_voiced = sent
    rest = Utterance(
        line.utterance.text,
        line.utterance.pcm[(voiced_start + 1) * FRAME_BYTES :],
        max(0, line.utterance.voiced_frames - voiced_start - 1),
    )
    measure = await conv.say(rest, lead=False, events_from=start)
    stops = [t for t, e in conv.events[start:] if e.get("type") == "interrupted"]
    stop_s = round(stops[0] - first_voiced, 4) if stops and first_voiced else None
    # The interruption it meant to make is not a false start of this turn.
    measure.interrupted = max(0, measure.interrupted - 1)
    return measure, stop_s


async def run_conversation(url: str, number: int, lines: Sequence[Line]) -> list[Turn]:
    turns: list[Turn] = []
    async with conversation(url) as conv:
        for index, line in enumerate(lines):
            following = lines[index + 1] if index + 1 < len(lines) else None
            cut = BARGE_AFTER_S if following is not None and following.barge_in else None
            if line.barge_in:
                measure, stop_s = await say_over(conv, line)
            else:
                measure, stop_s = await conv.say(line.utterance, interrupt_after_s=cut), None
            measure.text = line.text
            turns.append(
                Turn(number, index, measure, line.utterance.seconds, line.barge_in, stop_s)
            )
            print(f"  {number}.{index + 1} {measure.line()}", flush=True)
            if stop_s is not None:
                print(f"       barge-in stopped the answer after {stop_s:.3f} s", flush=True)
    return turns


def run(conversations: int) -> Result:
    lines = make_lines(SCRIPT)
    print(
        f"{len(lines)} turns per conversation, {min(x.utterance.seconds for x in lines):.1f}-"
        f"{max(x.utterance.seconds for x in lines):.1f} s each; loading the models..."
    )
    pipeline = SequentialPipeline()
    with running_server() as server:
        url = ws_url(server, "/ws/conversation", token=server.token, sample_rate=RATE)
        turns: list[Turn] = []
        for n in range(1, conversations + 1):
            print(f"conversation {n}:")
            turns += asyncio.run(run_conversation(url, n, lines))
    sequential = []
    for line in lines:
        seq = pipeline.run(line.utterance)
        sequential.append(seq.total_s)
        print(f"  sequential {seq.total_s:6.3f} s  {seq.heard!r}")
    return result(turns, sequential)


def result(turns: list[Turn], sequential: list[float]) -> Result:
    answered = [t.measure for t in turns if not t.measure.failed]
    latencies = [m.latency_s for m in answered if m.latency_s is not None]
    first = stats(latencies)
    seq = stats(sequential)
    ratio = first["p50_s"] / seq["p50_s"] if seq["p50_s"] else float("nan")
    spread = first["p95_s"] / first["p50_s"] if first["p50_s"] else float("nan")
    false_starts = sum(t.measure.false_starts for t in turns if not t.barge_in)
    withdrawn = sum(t.measure.resumed for t in turns)
    barge = [t.barge_in_stop_s for t in turns if t.barge_in_stop_s is not None]
    stages = {
        key: round(median([v for m in answered if (v := getattr(m, key)) is not None]), 3)
        for key in ("stopped_s", "transcript_s", "first_delta_s", "latency_s")
    }
    print("\n=== conversations: last voiced frame -> first reply audio ===")
    print(
        f"p50 {first['p50_s']:.3f} s, p95 {first['p95_s']:.3f} s, max {first['max_s']:.3f} s "
        f"over {first['count']} answered of {len(turns)} turns"
    )
    print(f"stages (medians, s after the last voiced frame): {stages}")
    print(f"sequential pipeline p50 {seq['p50_s']:.3f} s: ratio {ratio:.2f}; p95/p50 {spread:.2f}")
    print(
        f"false starts {false_starts}; answers withdrawn unheard {withdrawn}; "
        f"barge-in stops {barge}"
    )
    res = Result(NAME)
    res.checks += [
        Check("first audio p50 / sequential p50", round(ratio, 3), TARGET_RATIO, "x"),
        Check("first audio p95 / p50", round(spread, 3), TARGET_SPREAD, "x"),
        Check("false starts on pauses inside sentences", false_starts, 0, "turns"),
        Check(
            "barge-in: first voiced frame -> interrupted, max",
            max(barge, default=99.0),
            TARGET_BARGE_IN_S,
            "s",
        ),
        Check("turns without an answer", len(turns) - len(answered), 0, "turns"),
    ]
    res.figures = {
        "first_audio": first,
        "sequential": seq,
        "ratio_of_p50s": round(ratio, 3),
        "p95_over_p50": round(spread, 3),
        "stages_median_s": stages,
        "false_starts": false_starts,
        "withdrawn_unheard": withdrawn,
        "barge_in_stop_s": barge,
        "turns": [{**asdict(t), "measure": asdict(t.measure)} for t in turns],
        "sequential_s": sequential,
    }
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=3)
    args = parser.parse_args()
    write_result(run(args.conversations))


if __name__ == "__main__":
    main()
