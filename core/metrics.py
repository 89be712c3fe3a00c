"""Prometheus metrics of the real-time turns: stage latencies, turns and interruptions."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)

STAGE_SECONDS = Histogram(
    "voice_agent_turn_stage_seconds",
    "Seconds from the end of the user's speech to each stage of a real-time turn.",
    ["channel", "stage"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
STT_SECONDS = Histogram(
    "voice_agent_stt_seconds",
    "Seconds the speech-to-text model spent on a real-time turn.",
    ["channel"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
TURNS = Counter(
    "voice_agent_turns_total",
    "Real-time turns answered.",
    ["channel"],
    registry=REGISTRY,
)
INTERRUPTIONS = Counter(
    "voice_agent_interruptions_total",
    "Answers the user interrupted (barge-in).",
    ["channel"],
    registry=REGISTRY,
)


def observe_turn(channel: str, timings: object, *, interrupted: bool) -> None:
    """Record a finished turn's `TurnTimings` (milliseconds; None for a stage not reached)."""
    TURNS.labels(channel).inc()
    for stage in ("transcript", "first_token", "first_audio"):
        value = getattr(timings, f"{stage}_ms", None)
        if value is not None:
            STAGE_SECONDS.labels(channel, stage).observe(value / 1000)
    stt = getattr(timings, "stt_ms", None)
    if stt is not None:
        STT_SECONDS.labels(channel).observe(stt / 1000)


def observe_interruption(channel: str) -> None:
    INTERRUPTIONS.labels(channel).inc()


def exposition() -> bytes:
    """The metrics in Prometheus' text format."""
    return generate_latest(REGISTRY)
