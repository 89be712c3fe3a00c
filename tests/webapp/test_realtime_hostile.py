"""A live conversation under a careless or hostile client (issue 23): a burst of typed
messages never leaves it mute, and control messages the parser cannot take get the
documented error event, not a traceback. The real app on loopback, real models."""

from __future__ import annotations

import gc
import json
import logging
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.webapp.test_realtime_ws import Live, Received, live, receive_until

__all__ = ["live"]  # the fixture, used by name


def answered(ws, got: Received, text: str) -> dict:
    ws.send(json.dumps({"type": "text", "text": text}))
    return receive_until(ws, got, "turn", timeout=120)


def test_a_burst_of_typed_messages_never_leaves_the_conversation_mute(live: Live) -> None:
    """30 messages at once right after `ready` cancelled the first answer while its session
    row was written; every later turn then failed to store the session again (UNIQUE
    constraint), silently. Now the burst ends in an answer, and so does the next message."""
    got = Received()
    with live.ws() as ws:
        session = receive_until(ws, got, "ready")["session_id"]
        for i in range(30):
            ws.send(json.dumps({"type": "text", "text": f"Say the number {i}."}))
        last = receive_until(ws, got, "turn", timeout=180)
        follow_up = answered(ws, got, "What is the capital of Italy?")
    assert last["answer"] and "rome" in follow_up["answer"].lower(), follow_up
    assert "error" not in got.types()
    res = httpx.get(
        f"{live.base}/sessions/{session}", headers={"Authorization": f"Bearer {live.token}"}
    )
    assert res.status_code == 200
    assert len(res.json()["turns"]) >= 2


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("[" * 50_000, "Send JSON with a 'type' field."),
        ('{"type": "playback", "played_ms": 1' + "0" * 400 + "}", "'played_ms' must be"),
        ('{"type": "playback", "played_ms": -5}', "'played_ms' must be"),
        ('{"type": 5}', "Send JSON with a 'type' field."),
    ],
)
def test_a_control_message_the_server_cannot_take_gets_an_error_event(
    live: Live, frame: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    got = Received()
    with live.ws() as ws:
        receive_until(ws, got, "ready")
        ws.send(frame)
        error = receive_until(ws, got, "error")
        ws.send(json.dumps({"type": "playback", "played_ms": 1200}))  # a good one: no reply
        turn = answered(ws, got, "What is the capital of France?")
    assert error["message"].startswith(message) and error["fatal"] is False
    assert got.types().count("error") == 1 and turn["answer"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_one_account_holds_one_live_conversation_at_a_time(live: Live) -> None:
    """Issue 23: one account opened every place, and callers heard that all lines were busy."""
    got = Received()
    with live.ws() as first:
        receive_until(first, got, "ready")
        with live.ws() as second:
            refusal = json.loads(second.recv(timeout=10))
            with pytest.raises(ConnectionClosed):
                second.recv(timeout=10)
        assert refusal["type"] == "error" and refusal["fatal"] is True
        assert "This account already has 1 live conversation open" in refusal["message"]
        assert second.close_code == 1013
    # The first one's place is free once the server has closed it.
    deadline = time.monotonic() + 10
    while True:
        with live.ws() as again:
            message = json.loads(again.recv(timeout=10))
        if message["type"] == "ready" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert message["type"] == "ready", message


def test_an_answer_interrupted_after_its_session_was_deleted_leaves_no_lost_error(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 23: storing what was heard of it found the turn gone, and the task's exception
    was never retrieved (asyncio's error in the log)."""
    caplog.set_level(logging.INFO)
    got = Received()
    with live.ws() as ws:
        session = receive_until(ws, got, "ready")["session_id"]
        ws.send(json.dumps({"type": "text", "text": "Tell me a long story about a dragon."}))
        receive_until(ws, got, "audio_start", timeout=120)
        res = httpx.delete(
            f"{live.base}/sessions/{session}",
            headers={"Authorization": f"Bearer {live.token}"},
        )
        assert res.status_code in (200, 204), res.text
        ws.send(json.dumps({"type": "interrupt"}))
        receive_until(ws, got, "interrupted")
        time.sleep(1.0)  # the write of what was heard runs and fails meanwhile
    gc.collect()  # a task whose exception nobody read says so when it is collected
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, caplog.text
    assert "never retrieved" not in caplog.text
