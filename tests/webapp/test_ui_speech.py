"""The page's streamed speech (`webapp.ui.speech.PageSpeech`): the user's chosen voice."""

from __future__ import annotations

import asyncio
import dataclasses
import re

from fastapi.testclient import TestClient

from core.history import UserRecord
from core.results import AnswerDelta, TurnStarted
from core.tts.gtts import GTTS
from tests.gtts_server import FakeGoogle, gtts_server_fixture  # noqa: F401
from tests.helpers import ADMIN
from webapp.deps import state_of
from webapp.ui.speech import PageSpeech


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def test_the_page_speaks_in_the_voice_the_user_chose(
    app_factory, local_providers, gtts_server: FakeGoogle
) -> None:
    """A user who chose gTTS hears gTTS on the page, as through the API: every piece of the
    streamed answer goes to the (loopback) Google, and its audio reaches the player."""
    cloud = GTTS(base_url=gtts_server.url, timeout=1.0)
    tts = dataclasses.replace(local_providers.tts, cloud=cloud)
    app = app_factory(dataclasses.replace(local_providers, tts=tts))
    state = state_of(app)
    account = state.store.find_user_by_name(username=ADMIN[0])
    assert account is not None
    user: UserRecord = state.store.update_user(user_id=account.id, tts_provider="gtts")

    async def speak() -> tuple[list, list[bytes]]:
        speech = PageSpeech(state, user)
        events, audio = [], []
        answer = state.agent.respond(user=user, text="Name three colours of the rainbow.")
        async for batch in speech.merge(answer):
            for item in batch:
                (audio if isinstance(item, bytes) else events).append(item)
        return events, audio

    with TestClient(app):  # closes the store at the end
        events, audio = asyncio.run(speak())
    text = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert isinstance(events[0], TurnStarted) and text.strip()
    heard = words(" ".join(seen.text for seen in gtts_server.requests))
    assert heard and heard <= words(text), (gtts_server.requests, text)
    assert sum(len(pcm) for pcm in audio) > 22050 * 2 * 0.5  # half a second, at the least


def test_the_page_notes_on_the_turn_when_the_chosen_voice_failed(
    app_factory, local_providers, gtts_server: FakeGoogle
) -> None:
    """Google fails: the page still speaks (the local voice), and the stored turn says why,
    as a REST answer's does."""
    gtts_server.fault = "500"
    cloud = GTTS(base_url=gtts_server.url, timeout=1.0)
    tts = dataclasses.replace(local_providers.tts, cloud=cloud)
    app = app_factory(dataclasses.replace(local_providers, tts=tts))
    state = state_of(app)
    account = state.store.find_user_by_name(username=ADMIN[0])
    assert account is not None
    user = state.store.update_user(user_id=account.id, tts_provider="gtts")

    async def speak() -> tuple[int, int]:
        speech = PageSpeech(state, user)
        turn_id, audio = 0, 0
        answer = state.agent.respond(user=user, text="Say hello to me.")
        async for batch in speech.merge(answer):
            for item in batch:
                if isinstance(item, bytes):
                    audio += len(item)
                elif isinstance(item, TurnStarted):
                    turn_id = item.turn_id
        return turn_id, audio

    with TestClient(app):
        turn_id, audio = asyncio.run(speak())
        turn = state.store.get_turn(user_id=user.id, turn_id=turn_id)
    assert audio > 22050 and gtts_server.requests
    assert turn.fallback and "speech: gtts:google-translate failed (HTTPError: 500" in turn.fallback
