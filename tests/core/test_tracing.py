"""OpenTelemetry traces of a turn: the spans a real engine turn records (in-memory exporter),
and the same spans sent over OTLP/HTTP to a loopback collector when the endpoint is set."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from core import tracing
from core.agent import Agent
from core.history import HistoryStore
from core.listening.vad import SileroVAD
from core.realtime import events as ev
from core.realtime.engine import Conversation
from tests.core.realtime.test_engine import QUESTION, _collect
from tests.helpers import pcm16


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    yield exporter
    tracing.use(None)
    provider.shutdown()


def test_a_spoken_turn_is_one_span_with_a_child_per_stage(
    spans: InMemorySpanExporter, settings, local_providers, speak
) -> None:
    store = HistoryStore.open(settings.sqlalchemy_url)
    agent = Agent(settings=settings, providers=local_providers, store=store)
    user = store.create_user(username="traced", password_hash="x")
    quiet = b"\x00\x00" * 16000
    audio = quiet + pcm16(speak(QUESTION)) + quiet

    async def scenario() -> list:
        conversation = Conversation(agent=agent, vad=SileroVAD(), user=user, sample_rate=16000)
        await conversation.start()
        for i in range(0, len(audio), 640):
            conversation.feed(audio[i : i + 640])
        events = await _collect(conversation, ev.TurnComplete)
        await conversation.close()
        return events

    done = asyncio.run(scenario())[-1]
    store.close()
    assert isinstance(done, ev.TurnComplete)
    (turn,) = [s for s in spans.get_finished_spans() if s.name == "voice.turn"]
    attributes = dict(turn.attributes or {})
    assert attributes["voice.channel"] == "ws"
    assert attributes["voice.turn_id"] == done.turn_id
    assert attributes["voice.provider"] == local_providers.llm.name
    assert "voice.fallback" not in attributes  # nothing failed
    children = {s.name: s for s in spans.get_finished_spans() if s.parent is not None}
    assert set(children) == {f"voice.{stage}" for stage in tracing.STAGES}
    for child in children.values():
        assert child.parent is not None and child.parent.span_id == turn.context.span_id
        assert child.start_time == turn.start_time
        assert child.end_time is not None and child.end_time <= (turn.end_time or 0)
    # The stages in the order they happen, at the times the engine measured.
    ends = [children[f"voice.{stage}"].end_time or 0 for stage in tracing.STAGES]
    assert ends == sorted(ends)
    sent_ms = ((children["voice.first_audio_sent"].end_time or 0) - (turn.start_time or 0)) / 1e6
    assert sent_ms == pytest.approx(done.timings.first_audio_ms, abs=1.0)


def test_a_turn_that_never_spoke_has_only_the_stages_it_reached(
    spans: InMemorySpanExporter,
) -> None:
    tracing.record_turn(
        tracing.TurnTrace(
            channel="ui",
            ended_at=time.perf_counter() - 2,
            stages_ms={"transcript": 300.0, "first_token": 900.0, "first_tts_chunk": None},
            attributes={"provider": "groq:llama", "fallback": "the voice failed"},
        )
    )
    names = sorted(s.name for s in spans.get_finished_spans())
    assert names == ["voice.first_token", "voice.transcript", "voice.turn"]
    (turn,) = [s for s in spans.get_finished_spans() if s.name == "voice.turn"]
    assert (turn.attributes or {})["voice.fallback"] == "the voice failed"
    assert ((turn.end_time or 0) - (turn.start_time or 0)) / 1e6 == pytest.approx(900, abs=1)


class _Collector(ThreadingHTTPServer):
    """A loopback OTLP/HTTP trace collector: keeps every export request it is sent."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CollectorHandler)
        self.exports: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []


class _CollectorHandler(BaseHTTPRequestHandler):
    server: _Collector

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.paths.append(self.path)
        if self.headers.get("Content-Type") == "application/x-protobuf":
            self.server.exports.append(ExportTraceServiceRequest.FromString(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_traces_go_over_otlp_only_when_the_endpoint_is_set(monkeypatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert tracing.configure() is False  # off by default: nothing set up, nothing sent

    collector = _Collector()
    thread = threading.Thread(target=collector.serve_forever, args=(0.05,))
    thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "voice-agent-test")
    try:
        assert tracing.configure() is True
        provider = tracing._provider
        tracing.record_turn(
            tracing.TurnTrace(
                channel="phone",
                ended_at=time.perf_counter() - 1,
                stages_ms={"transcript": 250.0, "first_token": 600.0},
                attributes={"provider": "local:qwen2.5-0.5b"},
            )
        )
        assert provider is not None and provider.force_flush(10_000)  # type: ignore[attr-defined]
    finally:
        tracing.use(None)
        if provider is not None:
            provider.shutdown()  # type: ignore[attr-defined]
        collector.shutdown()
        collector.server_close()
        thread.join()
    assert collector.paths and set(collector.paths) == {"/v1/traces"}
    sent = [
        (resource, span)
        for export in collector.exports
        for resource in export.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    assert sorted(span.name for _, span in sent) == [
        "voice.first_token",
        "voice.transcript",
        "voice.turn",
    ]
    services = {
        a.value.string_value
        for resource, _ in sent
        for a in resource.resource.attributes
        if a.key == "service.name"
    }
    assert services == {"voice-agent-test"}
