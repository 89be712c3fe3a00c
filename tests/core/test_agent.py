"""The orchestrator: history trimmed to the context, fair queueing of concurrent turns."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from core.agent import Agent
from core.history import HistoryStore, TurnRecord
from tests.conftest import make_settings


def turn(i: int, words: int, language: str = "en") -> TurnRecord:
    now = datetime.now(UTC)
    return TurnRecord(
        id=i,
        session_id="s",
        source="text",
        user_text=f"question {i} " + "word " * words,
        language=language,
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


def test_history_is_trimmed_to_the_context_keeping_the_newest(
    tmp_path, database_url, local_providers
) -> None:
    settings = make_settings(tmp_path, llm_context_tokens=600, llm_max_tokens=100)
    store = HistoryStore.open(database_url)
    agent = Agent(settings=settings, providers=local_providers, store=store)
    history = [turn(i, 40) for i in range(1, 21)]
    messages = agent.prompts.build_messages(
        history, "And now?", language="fr", personality="formal", custom=None
    )
    store.close()
    assert messages[0].role == "system" and "Répondez toujours en français" in messages[0].content
    assert messages[-1].role == "user" and messages[-1].content.startswith("And now?")
    kept = [m.content.split()[1] for m in messages[1:-1] if m.role == "user"]
    assert 1 <= len(kept) < 20
    assert kept == [str(i) for i in range(21 - len(kept), 21)]  # the newest, in order
    total = sum(local_providers.llm.count_tokens(m.content) for m in messages)
    assert total + 100 <= 600


def test_a_change_of_language_is_named_in_the_message_and_only_then(
    tmp_path, database_url, local_providers
) -> None:
    settings = make_settings(tmp_path)
    store = HistoryStore.open(database_url)
    agent = Agent(settings=settings, providers=local_providers, store=store)
    history = [turn(1, 3, "en"), turn(2, 3, "en"), turn(3, 3, "de")]
    messages = agent.prompts.build_messages(
        history, "Et maintenant ?", language="fr", personality="casual", custom=None
    )
    same = agent.prompts.build_messages(
        history, "Und jetzt?", language="de", personality="casual", custom=None
    )
    store.close()
    users = [m.content for m in messages if m.role == "user"]
    assert users[0] == history[0].user_text and users[1] == history[1].user_text
    assert users[2] == f"{history[2].user_text}\n\n(Antworte auf Deutsch.)"
    assert users[3] == "Et maintenant ?\n\n(Réponds en français.)"
    assert messages[0].content.endswith("Réponds toujours en français.")
    assert same[-1].content == "Und jetzt?"
    # The history reads the same whatever the new turn is: the model's cache stays valid.
    assert messages[1:-1] == same[1:-1]


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


def test_a_client_leaving_mid_answer_keeps_the_partial_answer_and_frees_the_model(
    tmp_path, database_url, local_providers
) -> None:
    from core import accounts
    from core.results import AnswerDelta, TurnStarted

    settings = make_settings(tmp_path, llm_max_tokens=200)
    store = HistoryStore.open(database_url)
    agent = Agent(settings=settings, providers=local_providers, store=store)
    user = accounts.register(store, "leaver", "password-123")

    async def scenario() -> tuple[str, str]:
        events = agent.respond(user=user, text="Write a long story about a dragon.")
        started = await anext(events)
        assert isinstance(started, TurnStarted)
        for _ in range(3):
            assert isinstance(await anext(events), AnswerDelta)
        await events.aclose()  # the client went away
        # The model is free again: the next turn is answered.
        result = await asyncio.wait_for(agent.answer(user=user, text="Say yes."), timeout=60)
        return started.session_id, result.answer

    session_id, next_answer = asyncio.run(scenario())
    turns = store.list_turns(user_id=user.id, session_id=session_id)
    store.close()
    assert next_answer
    assert turns[0].status == "cancelled"
    assert turns[0].answer and len(turns[0].answer.split()) <= 10
