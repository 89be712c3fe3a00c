"""SIGKILL the real server while turns are written: every acknowledged turn survives, and the
SQLite file stays sound. Five cycles here (about 8 s each, mostly the server's start);
`bench/durability.py` runs fifty, and `DURABILITY_CYCLES=50` makes this test do the same."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx
import pytest

from tests import durability
from tests.groq_server import CHAT, FakeGroq, groq_server_fixture  # noqa: F401

CYCLES = int(os.environ.get("DURABILITY_CYCLES", "5"))


@pytest.mark.slow
def test_acknowledged_turns_survive_sigkill(tmp_path: Path, groq_server: FakeGroq) -> None:
    figures = durability.run(CYCLES, tmp_path, groq_server, seed=CYCLES)

    summary = figures.summary()
    assert figures.cycles == CYCLES
    assert figures.lost == [], summary
    assert figures.integrity == ["ok"] * CYCLES
    # The kills really hit a server at work: turns got acknowledged, requests got cut.
    kinds = summary["acknowledgements_by_kind"]
    assert isinstance(kinds, dict)
    assert {"response", "stream-start", "upload"} <= kinds.keys(), kinds
    assert figures.failed_requests >= CYCLES


@pytest.mark.slow
def test_a_turn_cut_off_by_a_stop_is_interrupted_after_restart(
    tmp_path: Path, groq_server: FakeGroq
) -> None:
    """A turn whose answer was under way when the server died stayed `pending` forever, and an
    empty /response answered it again. After a restart it is `interrupted`, with the reason;
    a transcription that was waiting for its answer still waits."""
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    with durability.app_process(data_dir, groq_server, log) as (base, _, process):
        auth = {"Authorization": f"Bearer {durability.login(base)}"}
        uploaded = httpx.post(
            f"{base}/upload", headers=auth, files={"file": ("a.wav", durability.tiny_wav())}
        ).json()
        groq_server.faults[CHAT] = "hang"  # the answer never comes: the kill cuts it off
        body = {"text": "Tell me a story.", "stream": True}
        with httpx.stream("POST", f"{base}/response", headers=auth, json=body) as res:
            lines = res.iter_lines()
            started = json.loads(next(line for line in lines if line.startswith("data:"))[5:])
            # Killed while the answer is under way and the client still waits for it (a client
            # that leaves first sends the turn back to `pending`, ready for a retry).
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
    groq_server.faults[CHAT] = "ok"
    with durability.app_process(data_dir, groq_server, log) as (base, _, _):
        auth = {"Authorization": f"Bearer {durability.login(base)}"}
        cut = httpx.get(f"{base}/sessions/{started['session_id']}", headers=auth).json()
        (turn,) = cut["turns"]
        assert (turn["id"], turn["status"]) == (started["turn_id"], "interrupted")
        assert "the server stopped while answering" in turn["fallback"]
        again = httpx.post(
            f"{base}/response", headers=auth, json={"text": "", "session_id": started["session_id"]}
        )
        assert again.status_code == 400, again.text
        # The upload's transcription was not cut off: it is still waiting, and gets its answer.
        waiting = httpx.post(
            f"{base}/response",
            headers=auth,
            json={"text": "", "session_id": uploaded["session_id"]},
            timeout=60,
        ).json()
        assert waiting["turn_id"] == uploaded["turn_id"]
        assert waiting["response"] == groq_server.answer
    assert "1 turn(s) cut off by the last stop are marked interrupted" in log.read_text()
