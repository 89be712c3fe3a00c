"""A turn's timings on the page: one line and one bar, both counted from the end of speech.

The end of speech is where the person stops: a live turn's last voiced audio (the engine's
figures), the press of Stop (or the choice of a file, or Send) for a press-to-talk turn. The
page's turns are timed in the browser from that press, so the upload counts, and their first
audio is the moment the page's player started playing it (webapp/ui/player.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import gradio as gr

from core.history import TurnRecord

# One bar per turn, one segment per stage, from the bottom up.
STAGES = ("until the transcript", "until first token", "until first audio", "rest of the answer")
COLOURS = ("#2563eb", "#ea580c", "#16a34a", "#9ca3af")

# A figure the browser reports is believed up to this (a longer wait is a stale clock).
MAX_CLIENT_MS = 10 * 60 * 1000.0


@dataclass(frozen=True)
class Milestones:
    """Milliseconds from the end of speech to each stage of a turn; None when not measured.
    A turn with no figures from the end of speech counts from the start of the agent's work
    (`from_end_of_speech` False)."""

    transcript: float | None
    first_token: float | None
    first_audio: float | None
    written: float | None  # the whole answer written
    from_end_of_speech: bool = True

    def stages(self) -> tuple[float, float, float, float]:
        """The time each stage added, in the order of STAGES (0 for one not measured)."""
        spans, reached = [], 0.0
        for at in (self.transcript, self.first_token, self.first_audio, self.written):
            spans.append(0.0 if at is None else max(0.0, at - reached))
            reached = reached if at is None else max(reached, at)
        return spans[0], spans[1], spans[2], spans[3]


def milestones(turn: TurnRecord) -> Milestones:
    """The turn's stages from the end of speech, as stored.

    A turn timed from the end of speech (live, or the page's since it times them) has
    `transcript_ms`, `first_token_ms` or `first_audio_ms`; the agent's own `llm_first_token_ms`
    and `total_ms` count from the start of its answer, which lies `first_token_ms -
    llm_first_token_ms` after the end of speech. A turn with none (the REST API's, or a live
    one cut short before its timings were stored) is counted from the start of its
    transcription instead.
    """
    first_token, llm_first, total = turn.first_token_ms, turn.llm_first_token_ms, turn.total_ms
    if turn.transcript_ms is None and first_token is None and turn.first_audio_ms is None:
        stt = turn.stt_ms or 0.0
        return Milestones(
            transcript=turn.stt_ms,
            first_token=None if llm_first is None else stt + llm_first,
            first_audio=None,
            written=None if total is None else stt + total,
            from_end_of_speech=False,
        )
    answer_start = None if first_token is None or llm_first is None else first_token - llm_first
    return Milestones(
        transcript=turn.transcript_ms,
        first_token=first_token,
        first_audio=turn.first_audio_ms,
        written=None if answer_start is None or total is None else answer_start + total,
    )


# Where a turn's figures count from: (from the end of speech, spoken) -> words.
_SINCE = {
    (True, True): "when you stopped speaking",
    (True, False): "when you sent it",
    (False, True): "the start of the transcription",
    (False, False): "the start of the answer",
}


def _fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f} s"


def timings_line(turn: TurnRecord) -> str:
    """The page's line for one turn: each stage from the end of speech, the model that
    answered, and whether the answer was interrupted."""
    at = milestones(turn)
    since = _SINCE[at.from_end_of_speech, turn.source != "text"]
    parts = []
    if turn.source != "text" and at.from_end_of_speech:
        parts.append(f"transcript {_fmt(at.transcript)} (speech-to-text {_fmt(turn.stt_ms)})")
    elif turn.source != "text":
        parts.append(f"speech-to-text {_fmt(turn.stt_ms)}")
    parts.append(f"first token {_fmt(at.first_token)}")
    audio = f"first audio {_fmt(at.first_audio)}"
    if at.first_audio is not None and at.first_token is not None:
        audio += f" ({_fmt(at.first_audio - at.first_token)} after the first token)"
    parts.append(audio)
    if turn.llm_provider:
        model = turn.llm_provider + (f" (fallback: {turn.fallback})" if turn.fallback else "")
        parts.append(model)
    if turn.interrupted:
        parts.append("interrupted")
    return f"**Last turn**, from {since}: " + " · ".join(parts)


def timings_frame(turns: list[TurnRecord]) -> Any:
    """One stacked bar per turn, a segment per stage (see `Milestones.stages`).

    Every turn has every stage (0 when one did not happen, such as the transcript of typed
    text), so the chart's colour domain never misses one. The chart stacks the stages in the
    order they first come, from the top down: the last stage comes first.
    """
    import pandas as pd

    rows = []
    for n, turn in enumerate(turns, 1):
        stages = zip(STAGES, milestones(turn).stages(), strict=True)
        for stage, value in reversed(list(stages)):
            rows.append({"turn": str(n), "stage": stage, "ms": float(value)})
    # Explicit dtypes: an empty frame's object columns would make the time axis categorical.
    frame = pd.DataFrame(rows, columns=["turn", "stage", "ms"])
    return frame.astype({"turn": "string", "stage": "string", "ms": "float64"})


def timings_plot(turns: list[TurnRecord]) -> Any:
    """The plot's update: shown only once there is a turn to draw.

    Gradio builds the chart's colour scale when the plot appears and not on later value
    changes, so the plot stays hidden (unmounted) until it has data with every stage.
    """
    return gr.update(value=timings_frame(turns), visible=bool(turns))


def _client_ms(value: object) -> float | None:
    """A duration in milliseconds the browser sent, if it is one to believe."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    ms = float(value)
    return ms if math.isfinite(ms) and 0 <= ms <= MAX_CLIENT_MS else None


@dataclass(frozen=True)
class StopClock:
    """When the person stopped speaking, by the browser's clock (`performance.now()`, ms), and
    how long ago that was when the page sent the turn (the recording's upload, mostly)."""

    stopped_at: float
    waited_ms: float

    @classmethod
    def parse(cls, text: str | None) -> StopClock | None:
        """The page's `voiceAgentClock.take()` (webapp/ui/static/page_clock.js), or None."""
        try:
            data = json.loads(text or "")
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        stopped_at = data.get("stopped_at")
        waited = _client_ms(data.get("waited_ms"))
        if waited is None or isinstance(stopped_at, bool):
            return None
        if not isinstance(stopped_at, int | float) or not math.isfinite(stopped_at):
            return None
        return cls(float(stopped_at), waited)


@dataclass(frozen=True)
class HeardReport:
    """The page's player started playing a turn's answer `heard_ms` after the stop."""

    turn_id: int
    heard_ms: float

    @classmethod
    def parse(cls, data: object) -> HeardReport | None:
        if not isinstance(data, dict):
            return None
        turn_id, heard = data.get("turn_id"), _client_ms(data.get("heard_ms"))
        if isinstance(turn_id, bool) or not isinstance(turn_id, int) or turn_id <= 0:
            return None
        return None if heard is None else cls(turn_id, heard)
