"""`WS /ws/conversation` on a live server: spoken turns, barge-in, silence, noise, bad tokens."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from core.audio import decode, pcm16_wav
from tests.helpers import ADMIN, pcm16, serve, wer

RATE = 16_000
FRAME = RATE // 50 * 2  # 20 ms of PCM16
QUESTION = "What is the capital of France?"


@dataclass
class Live:
    base: str
    token: str

    def ws(self, **params: object) -> ClientConnection:
        query = "&".join(f"{k}={v}" for k, v in {"token": self.token, **params}.items())
        url = self.base.replace("http", "ws", 1) + f"/ws/conversation?{query}"
        return connect(url, open_timeout=10, max_size=None)


@pytest.fixture
def live(app_factory) -> Iterator[Live]:
    with serve(app_factory()) as base:
        res = httpx.post(f"{base}/login", json={"username": ADMIN[0], "password": ADMIN[1]})
        yield Live(base, res.json()["token"])


@dataclass
class Received:
    events: list[dict] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    audio_at: list[int] = field(default_factory=list)  # audio bytes so far, at each event

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def first(self, kind: str) -> dict:
        return next(e for e in self.events if e["type"] == kind)


def receive_until(ws: ClientConnection, got: Received, kind: str, timeout: float = 60) -> dict:
    """Collect events (and binary audio) until an event of `kind` arrives."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {kind!r} event; got {got.types()}"
        message = ws.recv(timeout=left)
        if isinstance(message, bytes):
            got.audio.extend(message)
            continue
        event = json.loads(message)
        got.events.append(event)
        got.audio_at.append(len(got.audio))
        assert event["type"] != "error" or kind == "error", event
        if event["type"] == kind:
            return event


def send_audio(ws: ClientConnection, pcm: bytes, *, pace: float = 0.0) -> None:
    """Send PCM in 20 ms frames; `pace` 1.0 is real time, 0 as fast as possible."""
    start = time.perf_counter()
    for n, i in enumerate(range(0, len(pcm), FRAME), 1):
        ws.send(pcm[i : i + FRAME])
        if pace:
            delay = start + n * 0.02 * pace - time.perf_counter()
            if delay > 0:
                time.sleep(delay)


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(RATE * seconds)


def test_a_bad_token_closes_with_policy_violation(live: Live) -> None:
    for token in ("", "not-a-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."):
        with live.ws(token=token) as ws, pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


@pytest.mark.parametrize("kind", ["binary", "text"])
def test_a_message_over_1_mib_closes_with_1009(live: Live, kind: str) -> None:
    """A 10 MB text frame got no answer at all before: it is refused like a binary one."""
    with live.ws() as ws:
        got = Received()
        receive_until(ws, got, "ready")
        if kind == "binary":
            ws.send(bytes(10 * 1024 * 1024))
        else:
            ws.send(json.dumps({"type": "text", "text": "a" * 10 * 1024 * 1024}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert "at most 1048576 bytes" in closed.value.rcvd.reason
    # A message just under the limit is still served: a typed question is answered.
    with live.ws() as ws:
        got = Received()
        receive_until(ws, got, "ready")
        ws.send(json.dumps({"type": "text", "text": "Hello!" + " " * (1024 * 1024 - 64)}))
        assert receive_until(ws, got, "turn")["answer"]


def test_someone_elses_session_or_a_bad_rate_is_refused(live: Live) -> None:
    for params in ({"session_id": "0" * 32}, {"sample_rate": "1000"}, {"sample_rate": "x"}):
        with live.ws(**params) as ws:
            event = json.loads(ws.recv(timeout=10))
            assert event["type"] == "error" and event["fatal"] is True
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_a_spoken_question_gets_a_spoken_answer_and_is_stored(live: Live, speak) -> None:
    got = Received()
    with live.ws(sample_rate=RATE) as ws:
        ready = receive_until(ws, got, "ready")
        assert ready["input_sample_rate"] == RATE and ready["output_sample_rate"] == 22050
        send_audio(ws, silence(0.5) + pcm16(speak(QUESTION)) + silence(1.0))
        turn = receive_until(ws, got, "turn")
        ws.send(json.dumps({"type": "end"}))
    types = got.types()
    assert types.index("speech_started") < types.index("speech_stopped") < types.index("turn")
    final = [e for e in got.events if e["type"] == "transcript" and e["final"]]
    assert len(final) == 1 and wer(QUESTION, final[0]["text"]) <= 0.2, final
    assert final[0]["language"] == "en"
    deltas = "".join(e["delta"] for e in got.events if e["type"] == "answer")
    assert deltas.strip() and turn["answer"] == deltas.strip()
    assert types.index("audio_start") < types.index("audio_end") < types.index("turn")
    # The spoken answer decodes to real speech of a plausible length for its text.
    audio = decode(pcm16_wav(bytes(got.audio), 22050), max_seconds=120)
    assert float(np.abs(audio.samples).max()) > 0.05
    assert 0.03 * len(turn["answer"]) < audio.duration < 0.2 * len(turn["answer"]) + 2
    timings = turn["timings"]
    assert 0 < timings["stt_ms"] and 0 < timings["transcript_ms"] <= timings["first_token_ms"]
    assert timings["first_token_ms"] <= timings["first_audio_ms"]
    assert turn["interrupted"] is False

    headers = {"Authorization": f"Bearer {live.token}"}
    stored = httpx.get(f"{live.base}/sessions/{turn['session_id']}", headers=headers).json()
    (record,) = stored["turns"]
    assert record["user_text"] == final[0]["text"] and record["answer"] == turn["answer"]
    metrics = httpx.get(f"{live.base}/metrics").text
    assert 'voice_agent_turns_total{channel="ws"}' in metrics
    assert 'voice_agent_turn_stage_seconds_count{channel="ws",stage="first_audio"}' in metrics


def test_speaking_over_the_answer_interrupts_it(live: Live, speak) -> None:
    got = Received()
    question = "Tell me a long story about a brave dragon and a princess."
    with live.ws(sample_rate=RATE) as ws:
        receive_until(ws, got, "ready")
        interruption = pcm16(speak("Stop, stop, wait a moment please."))
        send_audio(ws, silence(0.3) + pcm16(speak(question)) + silence(0.6))
        receive_until(ws, got, "audio_start")
        # Half a second of the answer plays (silence from the user meanwhile), then they talk.
        send_audio(ws, silence(0.5), pace=1.0)
        cut_at = time.monotonic()
        stop = threading.Event()

        def keep_talking() -> None:
            send_audio(ws, interruption, pace=1.0)
            while not stop.is_set():
                send_audio(ws, silence(0.1), pace=1.0)

        talker = threading.Thread(target=keep_talking)
        talker.start()
        try:
            interrupted = receive_until(ws, got, "interrupted", timeout=30)
            reaction = time.monotonic() - cut_at
        finally:
            stop.set()
            talker.join()
        ws.send(json.dumps({"type": "end"}))
    assert reaction < 1.5, reaction
    first_turn = got.first("audio_start")["turn_id"]
    assert interrupted["turn_id"] == first_turn
    # What was heard is a start of the answer, far shorter than the whole story.
    said = "".join(e["delta"] for e in got.events if e["type"] == "answer")
    heard = interrupted["heard_text"]
    assert 300 <= interrupted["heard_ms"] < 3000, interrupted
    assert heard and said.startswith(heard.split()[0]) and len(heard) < len(said)
    # No audio of that answer after the interruption.
    after = got.types()[got.types().index("interrupted") + 1 :]
    assert (
        "audio_end" not in after[: after.index("audio_start")] if "audio_start" in after else True
    )

    headers = {"Authorization": f"Bearer {live.token}"}
    session = got.first("ready")["session_id"]
    deadline = time.monotonic() + 10
    while True:
        turns = httpx.get(f"{live.base}/sessions/{session}", headers=headers).json()["turns"]
        record = next(t for t in turns if t["id"] == first_turn)
        if record["interrupted"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert record["interrupted"] is True and record["answer"] == heard
    # The timings it reached before the cut are kept: it was heard, so it had a first audio.
    realtime = record["realtime"]
    assert realtime["first_token_ms"] > 0 and realtime["first_audio_ms"] > 0, record


def test_silence_and_noise_make_no_turn(live: Live) -> None:
    rng = np.random.default_rng(7)
    noise = (rng.normal(0, 0.02, RATE * 3) * 32767).astype("<i2").tobytes()
    got = Received()
    with live.ws(sample_rate=RATE) as ws:
        receive_until(ws, got, "ready")
        send_audio(ws, silence(3.0) + noise + silence(1.0))
        ws.send(json.dumps({"type": "end"}))
        with pytest.raises(ConnectionClosed) as closed:
            receive_until(ws, got, "turn", timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    assert "turn" not in got.types() and "answer" not in got.types(), got.types()
    # A conversation that never had a turn leaves no session behind (each did before).
    auth = {"Authorization": f"Bearer {live.token}"}
    with live.ws(sample_rate=RATE) as ws:
        receive_until(ws, got, "ready")
    assert httpx.get(f"{live.base}/sessions", headers=auth).json() == []
    # The id announced in `ready` is the one the first turn is stored under.
    with live.ws() as ws:
        ready = receive_until(ws, Received(), "ready")
        ws.send(json.dumps({"type": "text", "text": "Hello there!"}))
        receive_until(ws, Received(), "turn")
    stored = httpx.get(f"{live.base}/sessions/{ready['session_id']}", headers=auth)
    assert stored.status_code == 200 and len(stored.json()["turns"]) == 1


def test_a_stream_that_stops_mid_word_ends_cleanly(live: Live, speak) -> None:
    speech = pcm16(speak("Could you please tell me what the weather is like"))
    half = speech[: len(speech) // 2 // FRAME * FRAME]
    # The client just goes away in the middle of a word.
    with live.ws(sample_rate=RATE) as ws:
        json.loads(ws.recv(timeout=10))
        send_audio(ws, silence(0.3) + half)
    # Or says it is done: the words so far still make a turn, then the socket closes.
    got = Received()
    with live.ws(sample_rate=8000) as ws:
        receive_until(ws, got, "ready")
        send_audio(ws, pcm16(speak(QUESTION), rate=8000)[: len(half) // 2])
        ws.send(json.dumps({"type": "end"}))
        with pytest.raises(ConnectionClosed) as closed:
            receive_until(ws, got, "never", timeout=60)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    assert "speech_started" in got.types() and "turn" in got.types(), got.types()
    assert httpx.get(f"{live.base}/health").status_code == 200


def test_typed_text_in_the_conversation_is_answered_aloud(live: Live) -> None:
    got = Received()
    with live.ws() as ws:
        receive_until(ws, got, "ready")
        ws.send(json.dumps({"type": "text", "text": "Quelle est la capitale de la France ?"}))
        turn = receive_until(ws, got, "turn")
        ws.send(json.dumps({"type": "nonsense"}))
        error = receive_until(ws, got, "error")
    assert turn["language"] == "fr" and turn["answer"]
    assert len(got.audio) > 22050 * 2 * 0.5
    assert error["fatal"] is False


def test_simultaneous_conversations_share_the_models_and_queue(live: Live, speak) -> None:
    """One caller asks for a story; the other asks a question as soon as the story starts to
    be written: both are answered on the shared model, and the second is told it waits.
    The story is typed: heard through Whisper, its words varied from run to run, and the
    small model sometimes refused the request in one line, done before the question came."""
    story = "Tell me a long story about a brave dragon and a princess."
    audios = [b"", silence(0.3) + pcm16(speak(QUESTION)) + silence(1.0)]
    results: list[Received] = [Received(), Received()]
    errors: list[BaseException] = []

    def talk(got: Received, audio: bytes, after: Received | None, token: str) -> None:
        try:
            with live.ws(token=token) as ws:
                receive_until(ws, got, "ready")
                deadline = time.monotonic() + 60
                while after is not None and "answer" not in after.types():
                    assert time.monotonic() < deadline, "the story was never written"
                    time.sleep(0.01)
                if audio:
                    # Faster than real time: the turn ends within Whisper's time, while the
                    # story (64 tokens in the tests) is still being written.
                    send_audio(ws, audio)
                else:
                    ws.send(json.dumps({"type": "text", "text": story}))
                receive_until(ws, got, "turn", timeout=90)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    # Two people: one account holds one live conversation at a time.
    second = {"username": "second-caller", "password": "second-pass-1"}
    assert httpx.post(f"{live.base}/register", json=second).status_code == 201
    other = httpx.post(f"{live.base}/login", json=second).json()["token"]
    threads = [
        threading.Thread(target=talk, args=(results[0], audios[0], None, live.token)),
        threading.Thread(target=talk, args=(results[1], audios[1], results[0], other)),
    ]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    while time.monotonic() - started < 5:  # the event loop keeps answering meanwhile
        assert httpx.get(f"{live.base}/health", timeout=2).status_code == 200
        time.sleep(0.2)
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    sessions = {got.first("ready")["session_id"] for got in results}
    assert len(sessions) == 2
    for got in results:
        assert got.first("turn")["answer"] and len(got.audio) > 0
    # The question waited for the story on the shared model, and was told so.
    assert "queued" in results[1].types(), results[1].types()
    assert results[1].first("queued")["position"] >= 1


def test_hanging_up_mid_answer_keeps_what_was_heard(live: Live, speak) -> None:
    got = Received()
    question = "Tell me a long story about a brave dragon and a princess."
    with live.ws() as ws:
        receive_until(ws, got, "ready")
        send_audio(ws, silence(0.3) + pcm16(speak(question)) + silence(0.6))
        turn_id = receive_until(ws, got, "audio_start")["turn_id"]
        time.sleep(0.8)
    headers = {"Authorization": f"Bearer {live.token}"}
    session = got.first("ready")["session_id"]
    deadline = time.monotonic() + 15
    while True:
        turns = httpx.get(f"{live.base}/sessions/{session}", headers=headers).json()["turns"]
        (record,) = [t for t in turns if t["id"] == turn_id]
        if record["interrupted"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert record["interrupted"] is True, record
    said = "".join(e["delta"] for e in got.events if e["type"] == "answer").strip()
    assert record["answer"] and said.startswith(record["answer"].split()[0])
    assert len(record["answer"]) < len(said) or not said
