"""The orchestrator: history trimmed to the context, fair queueing of concurrent turns."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from core.agent import Agent
from core.history import HistoryStore, TurnRecord
from tests.conftest import make_settings


def turn(i: int, words: int) -> TurnRecord:
    now = datetime.now(UTC)
    return TurnRecord(
        id=i,
        session_id="s",
        source="text",
        user_text=f"question {i} " + "word " * words,
        language="en",
        personality="casual",
        answer=f"answer {i} " + "word " * words,
        status="answered",
        stt_provider=None,
        llm_provider="x",
        fallback=None,
        audio_seconds=None,
        stt_ms=None,
        llm_first_token_ms=None,
        total_ms=None,
        interrupted=False,
        created_at=now,
        answered_at=now,
    )


def test_history_is_trimmed_to_the_context_keeping_the_newest(tmp_path, local_providers) -> None:
    settings = make_settings(tmp_path, llm_context_tokens=600, llm_max_tokens=100)
    store = HistoryStore.open(f"sqlite:///{tmp_path / 'a.db'}")
    agent = Agent(settings=settings, providers=local_providers, store=store)
    history = [turn(i, 40) for i in range(1, 21)]
    messages = agent.build_messages(
        history, "And now?", language="fr", personality="formal", custom=None
    )
    store.close()
    assert messages[0].role == "system" and "French" in messages[0].content
    assert messages[-1].role == "user" and messages[-1].content.startswith("And now?")
    kept = [m.content.split()[1] for m in messages[1:-1] if m.role == "user"]
    assert 1 <= len(kept) < 20
    assert kept == [str(i) for i in range(21 - len(kept), 21)]  # the newest, in order
    total = sum(local_providers.llm.count_tokens(m.content) for m in messages)
    assert total + 100 <= 600


def test_concurrent_turns_all_get_answered(app_factory) -> None:
    app = app_factory()

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            token = (
                await client.post("/login", json={"username": "admin", "password": "adminpass123"})
            ).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            questions = [
                "What is two plus two?",
                "Name a fruit.",
                "Say hello.",
                "What color is the sky?",
            ]
            return await asyncio.gather(
                *[
                    client.post("/response", headers=headers, json={"text": q}, timeout=120)
                    for q in questions
                ]
            )

    responses = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200] * 4
    assert all(r.json()["response"] for r in responses)
    assert len({r.json()["session_id"] for r in responses}) == 4
