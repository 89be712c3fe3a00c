"""Beyond capacity: 503 with Retry-After at once, nothing half-stored, service goes on."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.helpers import ADMIN, serve

BURST = 6


def _token(base: str) -> dict[str, str]:
    res = httpx.post(f"{base}/login", json={"username": ADMIN[0], "password": ADMIN[1]})
    return {"Authorization": f"Bearer {res.json()['token']}"}


def _burst(send) -> list[tuple[httpx.Response, float]]:
    def timed(n: int) -> tuple[httpx.Response, float]:
        start = time.perf_counter()
        res = send(n)
        return res, time.perf_counter() - start

    with ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(timed, range(BURST)))


def _check_refusals(results: list[tuple[httpx.Response, float]]) -> list[httpx.Response]:
    """The burst was split into answers and quick refusals; the answers are returned."""
    codes = sorted(res.status_code for res, _ in results)
    assert set(codes) == {200, 503}, codes
    for res, elapsed in results:
        if res.status_code == 503:
            assert int(res.headers["Retry-After"]) >= 1
            assert res.json()["error"] == "OverloadedError"
            assert "busy" in res.json()["detail"]
            assert elapsed < 2.0  # refused up front, not after waiting in the queue
    return [res for res, _ in results if res.status_code == 200]


def test_a_burst_of_answers_beyond_capacity_is_refused_quickly(app_factory) -> None:
    # One answer takes about a second here: a 1 s bound admits one or two of the burst.
    with serve(app_factory(max_queue_wait_s=1.0)) as base:
        headers = _token(base)
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            results = _burst(
                lambda n: client.post("/response", json={"text": f"Say the number {n}."})
            )
            answered = _check_refusals(results)
            # Every answer given is stored; a refused request left nothing behind.
            sessions = client.get("/sessions").json()
            assert sorted(s["id"] for s in sessions) == sorted(
                r.json()["session_id"] for r in answered
            )
            for res in answered:
                turns = client.get(f"/sessions/{res.json()['session_id']}").json()["turns"]
                assert [t["answer"] for t in turns] == [res.json()["response"]]
            # Once the burst is over, the next request is served.
            again = client.post("/response", json={"text": "Hello!"})
            assert again.status_code == 200, again.text


def test_a_burst_of_uploads_beyond_capacity_is_refused_quickly(app_factory, speak) -> None:
    wav = speak("Please book a table for two at eight tonight.").read_bytes()
    with serve(app_factory(max_queue_wait_s=0.2)) as base:
        headers = _token(base)
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            results = _burst(lambda n: client.post("/upload", files={"file": (f"{n}.wav", wav)}))
            answered = _check_refusals(results)
            sessions = client.get("/sessions").json()
            assert len(sessions) == len(answered)
            again = client.post("/upload", files={"file": ("again.wav", wav)})
            assert again.status_code == 200, again.text
            assert "table" in again.json()["transcription"].lower()


def test_conversations_beyond_the_limit_are_told_to_come_back(app_factory) -> None:
    with serve(app_factory(max_conversations=1)) as base:
        token = _token(base)["Authorization"].split()[1]
        url = base.replace("http", "ws", 1) + f"/ws/conversation?token={token}"
        with connect(url, open_timeout=10) as first:
            assert '"ready"' in first.recv(timeout=10)
            with connect(url, open_timeout=10) as second:
                refusal = json.loads(second.recv(timeout=10))
                assert refusal["type"] == "error" and refusal["fatal"] is True
                assert "busy" in refusal["message"]
                with pytest.raises(ConnectionClosed):
                    second.recv(timeout=10)
                assert second.close_code == 1013  # try again later
        # The first one left: its place is free again.
        deadline = time.monotonic() + 10
        while True:
            with connect(url, open_timeout=10) as third:
                message = third.recv(timeout=10)
            if '"ready"' in message or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # the server may still be closing the first conversation
        assert '"ready"' in message
