"""What a person hears from the page: answers cut from the page's play log, first audio, gaps.

Pure functions over the records of bench/browser_page.js, all in page time (milliseconds of
`performance.now()`): `plays` are the page's scheduled buffers (when each really starts, how
long it lasts, where a stop cut it), `sounds` are runs of sound the meter saw reach the
loudspeaker. An answer is whatever plays inside a window that the bench knows, from the end of
the user's speech (or a press on Stop, or Enter) to the next thing the user does. A page that
plays through something else than AudioBufferSourceNode still has its sound measured: an
answer without buffers is read from the meter alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

GAP_S = 0.3  # a silence inside an answer longer than this is a gap a person notices


@dataclass(frozen=True)
class Span:
    """Audio from `start` to `end` in page ms, and from `t0` to `t1` in seconds of its
    AudioContext's clock (exact between spans of one context, where page times carry the
    jitter of reading two clocks)."""

    start: float
    end: float
    t0: float
    t1: float
    context: int


def spans(records: Iterable[dict[str, Any]]) -> list[Span]:
    """The records' spans that played at all (a buffer stopped before its start did not)."""
    out = [
        Span(float(r["start"]), float(r["end"]), float(r["t0"]), float(r["t1"]), int(r["context"]))
        for r in records
    ]
    return sorted((s for s in out if s.t1 > s.t0), key=lambda s: s.start)


def inside(items: Sequence[Span], start: float, end: float) -> list[Span]:
    """The spans that begin in [start, end) (page ms), cut at `end`."""
    out = []
    for s in items:
        if start <= s.start < end:
            cut = min(s.end, end)
            out.append(Span(s.start, cut, s.t0, s.t0 + (cut - s.start) / 1000, s.context))
    return out


def merged(items: Sequence[Span]) -> list[Span]:
    """Overlapping or touching spans of one context joined (buffers scheduled back to back
    make one run); spans of different contexts stay apart."""
    out: list[Span] = []
    for span in sorted(items, key=lambda s: (s.context, s.t0)):
        last = out[-1] if out else None
        if last and last.context == span.context and span.t0 <= last.t1 + 1e-4:
            out[-1] = Span(
                last.start, max(last.end, span.end), last.t0, max(last.t1, span.t1), last.context
            )
        else:
            out.append(span)
    return out


def gaps_s(items: Sequence[Span]) -> list[float]:
    """The silences between the runs of an answer in each context, in seconds."""
    runs = merged(items)
    return [
        round(b.t0 - a.t1, 3)
        for a, b in zip(runs, runs[1:], strict=False)
        if a.context == b.context
    ]


@dataclass(frozen=True)
class Answer:
    """One answer as heard, measured from the moment the user was done (`origin`)."""

    label: str
    origin: float  # page ms: end of speech, Stop pressed, or Enter
    first_audio_s: float | None  # origin -> first scheduled buffer starts playing
    first_sound_s: float | None  # origin -> first sound the meter saw (the voice's own lead-in)
    audio_s: float  # how long the answer played (runs joined)
    gaps_s: list[float]  # silences between scheduled buffers
    sound_gaps_s: list[float]  # silences the meter saw (include the voice's own pauses)
    heard_before_origin: int  # buffers that started while the user still spoke (false starts)
    source: str = "buffers"  # "meter" when the page played through no AudioBufferSourceNode

    @property
    def has_gap(self) -> bool:
        return any(g > GAP_S for g in self.gaps_s)


def answer(
    label: str,
    snapshot: dict[str, Any],
    *,
    origin: float,
    until: float,
    spoke_from: float | None = None,
) -> Answer:
    """The answer heard between `origin` and `until` (page ms); buffers that began between
    `spoke_from` and `origin` were heard while the user was still speaking."""
    plays = spans(snapshot["plays"])
    sounds = spans(snapshot["sounds"])
    heard = inside(plays, origin, until)
    sound = inside(sounds, origin, until)
    early = inside(plays, spoke_from, origin) if spoke_from is not None else []
    first_sound_s = round((sound[0].start - origin) / 1000, 3) if sound else None
    sound_gaps = [g for g in gaps_s(sound) if g > GAP_S]
    if not heard and sound:  # another kind of player: the meter is all there is
        early_sound = inside(sounds, spoke_from, origin) if spoke_from is not None else []
        return Answer(
            label=label,
            origin=origin,
            first_audio_s=first_sound_s,
            first_sound_s=first_sound_s,
            audio_s=_length(sound),
            gaps_s=sound_gaps,
            sound_gaps_s=sound_gaps,
            heard_before_origin=len(early_sound),
            source="meter",
        )
    return Answer(
        label=label,
        origin=origin,
        first_audio_s=round((heard[0].start - origin) / 1000, 3) if heard else None,
        first_sound_s=first_sound_s,
        audio_s=_length(heard),
        gaps_s=gaps_s(heard),
        sound_gaps_s=sound_gaps,
        heard_before_origin=len(early),
    )


def _length(items: Sequence[Span]) -> float:
    return round(sum(s.t1 - s.t0 for s in merged(items)), 3)


def silent_from(snapshot: dict[str, Any], at: float) -> float | None:
    """How long after `at` (page ms) the page went quiet: the end of the run of back-to-back
    buffers playing at `at` (of the meter's runs joined over silences up to GAP_S, for a page
    without buffers); None when nothing was playing."""
    runs = merged(spans(snapshot["plays"]))
    if not runs:
        runs = _joined(spans(snapshot["sounds"]), GAP_S)
    ends = [r.end for r in runs if r.start <= at < r.end]
    return round((max(ends) - at) / 1000, 3) if ends else None


def _joined(items: Sequence[Span], gap_s: float) -> list[Span]:
    """Runs of one context joined over silences up to `gap_s`."""
    out: list[Span] = []
    for span in merged(items):
        last = out[-1] if out else None
        if last and last.context == span.context and span.t0 - last.t1 <= gap_s:
            out[-1] = Span(last.start, span.end, last.t0, span.t1, last.context)
        else:
            out.append(span)
    return out
