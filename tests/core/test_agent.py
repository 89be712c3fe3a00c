"""The orchestrator: history trimmed to the context, fair queueing of concurrent turns, a
computed value said when the model's answer lacks it."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import httpx

from core.agent import Agent
from core.history import HistoryStore, TurnRecord, UserRecord
from core.results import AnswerDelta, TurnDone, TurnResult
from tests.conftest import make_settings
from tests.groq_server import (  # noqa: F401
    API_KEY,
    CHAT,
    FakeGroq,
    groq_providers_fixture,
    groq_server_fixture,
)


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


def ask(agent: Agent, user: UserRecord, text: str) -> tuple[str, TurnResult]:
    """The streamed text of `text`'s answer, and the finished turn."""

    async def scenario() -> tuple[str, TurnResult]:
        streamed = ""
        async for event in agent.respond(user=user, text=text):
            if isinstance(event, AnswerDelta):
                streamed += event.text
            if isinstance(event, TurnDone):
                return streamed, event.result
        raise AssertionError("no TurnDone")

    return asyncio.run(scenario())


def test_a_garbled_computed_answer_gets_the_value_said(
    tmp_path, database_url, groq_server: FakeGroq, groq_providers
) -> None:
    """A model that gets "Elf mal sechs?" wrong (Groq's wire format, tools offered): its prompt
    ended with the computed fact, and the agent says the value after its answer."""
    from core import accounts

    groq_server.answer = "Elf mal sechs ist zwölf."
    settings = make_settings(
        tmp_path, llm_provider="groq", groq_api_key=API_KEY, groq_base_url=groq_server.url
    )
    store = HistoryStore.open(database_url)
    agent = Agent(settings=settings, providers=groq_providers(), store=store)
    user = accounts.register(store, "ada", "password-123")

    streamed, result = ask(agent, user, "Elf mal sechs?")
    groq_server.answer = "Das sind sechsundsechzig."
    right, _ = ask(agent, user, "Elf mal sechs?")
    store.close()

    said = "Der Taschenrechner sagt: 11 mal 6 ist 66."
    assert streamed == result.answer == f"Elf mal sechs ist zwölf. {said}"
    assert result.language == "de" and result.provider.startswith("groq:")
    assert right == "Das sind sechsundsechzig."  # said already: nothing added
    first = groq_server.seen(CHAT)[0]
    assert first.offered_tools
    assert first.asked == "Elf mal sechs?\n\n(Taschenrechner: 11 × 6 = 66)"


def test_arithmetic_in_words_is_answered_right_by_the_local_model(
    tmp_path, database_url, local_providers
) -> None:
    """End to end on the bundled model (tools off, the local default): "Elf mal sechs?" is
    answered in German with 66, whether the model says it or the agent adds it."""
    from core import accounts

    store = HistoryStore.open(database_url)
    agent = Agent(settings=make_settings(tmp_path), providers=local_providers, store=store)
    user = accounts.register(store, "ada", "password-123")

    streamed, result = ask(agent, user, "Elf mal sechs?")
    store.close()

    assert streamed.strip() == result.answer
    assert result.language == "de"
    assert re.search(r"(?<!\d)66(?!\d)|sechsundsechzig", result.answer.lower()), result.answer


def test_an_answer_the_model_doubts_is_hedged_in_the_users_language_and_stored_so(
    tmp_path, database_url, local_providers
) -> None:
    """The bundled model with a rule that doubts every answer: a Spanish question's answer
    says so in Spanish, after its first sentence, streamed and stored alike; a question the
    agent computes is not hedged, nor a reply to a statement."""
    from core import accounts
    from core.llm.doubt import DoubtRule

    store = HistoryStore.open(database_url)
    agent = Agent(settings=make_settings(tmp_path), providers=local_providers, store=store)
    user = accounts.register(store, "ada", "password-123")
    llm = local_providers.llm
    before, llm.doubt = llm.doubt, DoubtRule(below=0.0)
    try:
        streamed, result = ask(agent, user, "¿Quién escribió Don Quijote?")
        computed, _ = ask(agent, user, "¿Cuánto es trece por tres?")
        replied, _ = ask(agent, user, "Hoy terminé de leer mi primer libro en francés.")
    finally:
        llm.doubt = before
    stored = store.list_turns(user_id=user.id, session_id=result.session_id)
    store.close()

    assert streamed.count("Pero no estoy seguro de eso.") == 1, streamed
    assert streamed.strip() == result.answer == stored[0].answer
    assert "no estoy seguro" not in computed.lower(), computed
    assert "no estoy seguro" not in replied.lower(), replied  # not a question: no fact
