"""OpenTelemetry traces of each spoken turn: where the time went between the end of the user's
speech and the first audio of the answer.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then `configure` installs the SDK with an
OTLP/HTTP exporter (the usual `OTEL_*` variables apply: headers, service name, timeouts).
Without it, the API's no-op tracer makes `record_turn` cost next to nothing. A turn is one span,
`voice.turn`, from the end of speech (the last voiced audio, or the moment a typed or uploaded
turn started) to its last stage, with a child span per stage that was reached, each starting
at the end of speech. The stages are measured where they happen (the engine, the page) and
recorded once the turn is over, with their own timestamps.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace import TracerProvider

logger = logging.getLogger(__name__)

TRACER = "voice-agent"
# The stages of a turn, in the order they happen.
STAGES = ("transcript", "first_token", "first_tts_chunk", "first_audio_sent")

_provider: TracerProvider | None = None  # set by `configure` or a test; else the global one


def configure() -> bool:
    """Export traces over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; True if so."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = os.environ.get("OTEL_SERVICE_NAME", "voice-agent")
    # The SDK flushes and stops the exporter when the process exits.
    provider = SDKTracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use(provider)
    logger.info("Traces go to %s over OTLP/HTTP", os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
    return True


def use(provider: TracerProvider | None) -> None:
    """Send traces to `provider` (None: the global one, a no-op unless set elsewhere)."""
    global _provider
    _provider = provider


@dataclass(frozen=True)
class TurnTrace:
    """A finished turn's stages: milliseconds after the end of speech, None when not reached."""

    channel: str
    ended_at: float  # time.perf_counter() at the end of the user's speech
    stages_ms: Mapping[str, float | None]
    attributes: Mapping[str, str | int | float | bool | None]


def record_turn(turn: TurnTrace) -> None:
    """One `voice.turn` span with a child span per stage reached. Never raises: a trace is
    not worth a turn."""
    try:
        _record(turn)
    except Exception:
        logger.exception("Recording a turn's trace failed")


def _record(turn: TurnTrace) -> None:
    tracer = (_provider or trace.get_tracer_provider()).get_tracer(TRACER)
    # perf_counter() to the wall clock the exporter wants, in nanoseconds.
    start = time.time_ns() - int((time.perf_counter() - turn.ended_at) * 1e9)
    reached = {s: ms for s in STAGES if (ms := turn.stages_ms.get(s)) is not None}
    end = start + int(max(reached.values(), default=0.0) * 1e6)
    attributes: dict[str, str | int | float | bool] = {"voice.channel": turn.channel}
    attributes |= {f"voice.{k}": v for k, v in turn.attributes.items() if v is not None}
    attributes |= {f"voice.{stage}_ms": ms for stage, ms in reached.items()}
    span = tracer.start_span("voice.turn", start_time=start, attributes=attributes)
    context = trace.set_span_in_context(span)
    for stage, ms in reached.items():
        child = tracer.start_span(f"voice.{stage}", context=context, start_time=start)
        child.end(end_time=start + int(ms * 1e6))
    span.end(end_time=end)
