"""Prometheus metrics of the real-time turns: stage latencies, turns and interruptions."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from core.realtime.events import TurnTimings

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


def observe_turn(channel: str, timings: TurnTimings) -> None:
    """Record a finished turn's timings (milliseconds; None for a stage not reached)."""
    TURNS.labels(channel).inc()
    stages = {
        "transcript": timings.transcript_ms,
        "first_token": timings.first_token_ms,
        "first_audio": timings.first_audio_ms,
    }
    for stage, value in stages.items():
        if value is not None:
            STAGE_SECONDS.labels(channel, stage).observe(value / 1000)
    if timings.stt_ms is not None:
        STT_SECONDS.labels(channel).observe(timings.stt_ms / 1000)


def observe_interruption(channel: str) -> None:
    INTERRUPTIONS.labels(channel).inc()


def exposition() -> bytes:
    """The metrics in Prometheus' text format."""
    return generate_latest(REGISTRY)
