"""What was heard is not heard twice: a long utterance with pauses is transcribed piece by
piece, each transcription reading only what was said after the part already known. Real
models (Silero VAD, Whisper, Piper's speech as the talker)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from typing import Any

import numpy as np

from core.agent import Agent
from core.audio import DecodedAudio
from core.history import HistoryStore
from core.listening.vad import SileroVAD
from core.realtime import events as ev
from core.realtime.engine import Conversation
from core.realtime.hearing import KNOWN_MIN_SAMPLES, TAIL_MIN_SAMPLES
from core.stt import Transcript
from tests.core.test_abandon import FRAME, RATE, quiet, voiced
from tests.helpers import wer

SENTENCES = [
    "I wanted to tell you about my trip to the mountains last summer",
    "we drove up to the lake on a Saturday morning",
    "my sister said the water was still cold in May",
    "but the trails around it were lovely that time of year",
    "so tell me which mountain is the highest in Europe",
]


class Counting:
    """The real speech recogniser, noting how many samples each call reads."""

    def __init__(self, stt: Any) -> None:
        self._stt = stt
        self.read: list[int] = []
        self._guard = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stt, name)

    def transcribe(self, audio: DecodedAudio, *, language: str | None = None) -> Transcript:
        with self._guard:
            self.read.append(len(audio.samples))
        return self._stt.transcribe(audio, language=language)


def _talker(
    settings: Any, providers: Any, username: str, stt: Counting | None = None
) -> tuple[HistoryStore, Agent, Any]:
    """The store, the agent on `providers` (`stt` instead of theirs if given, no end-of-turn
    model) and a user to talk as."""
    providers = dataclasses.replace(providers, stt=stt or providers.stt, turn_model=None)
    store = HistoryStore.open(settings.sqlalchemy_url)
    agent = Agent(settings=settings, providers=providers, store=store)
    return store, agent, store.create_user(username=username, password_hash="x")


def _floats(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def test_a_long_utterance_is_heard_once_piece_by_piece(settings, local_providers, speak) -> None:
    stt = Counting(local_providers.stt)
    store, agent, user = _talker(settings, local_providers, "talker", stt)
    # Pauses long enough for a guess (the model finishes it while the talker goes on), too
    # short to end the turn; then silence that ends it.
    speech = b"".join(voiced(speak, s) + quiet(0.3) for s in SENTENCES[:-1])
    speech += voiced(speak, SENTENCES[-1]) + quiet(2.0)

    async def scenario() -> list[ev.Event]:
        conversation = Conversation(agent=agent, vad=SileroVAD(), user=user, sample_rate=RATE)
        await conversation.start()
        events: list[ev.Event] = []

        async def collect() -> None:
            async for event in conversation.events():
                events.append(event)
                if isinstance(event, ev.TranscriptEvent) and event.final:
                    return

        collector = asyncio.create_task(collect())
        for i in range(0, len(speech), FRAME):
            conversation.feed(speech[i : i + FRAME])
            await asyncio.sleep(0.02)  # real time: each pause's guess runs meanwhile
        await asyncio.wait_for(collector, 60)
        await conversation.close()
        return events

    try:
        events = asyncio.run(scenario())
    finally:
        store.close()
    final = [e for e in events if isinstance(e, ev.TranscriptEvent) and e.final]
    assert len(final) == 1
    said = " ".join(SENTENCES)
    assert wer(said, final[0].text) <= 0.2, final[0].text
    assert final[0].language == "en"
    utterance = len(speech) // 2
    # Some transcription started from a known part (read much less than all said before it),
    # and the last one read only the end of the utterance.
    assert max(stt.read) < utterance, stt.read
    assert stt.read[-1] < utterance - KNOWN_MIN_SAMPLES, stt.read
    assert np.sum(stt.read) < 2.5 * utterance, stt.read  # each part read about once


def test_a_pause_soon_after_a_known_part_reads_from_an_earlier_one(
    settings, local_providers, speak
) -> None:
    """The talker pauses again less than TAIL_MIN_SAMPLES after the latest known part: the
    utterance is read from the known part before it, not whole again (which cost 3.5-4.7 s a
    decode at 26-35 s, beside another user's answer)."""
    stt = Counting(local_providers.stt)
    store, agent, user = _talker(settings, local_providers, "pauser", stt)
    pcm = b"".join(voiced(speak, s) + quiet(0.4) for s in SENTENCES[:4])
    pcm += voiced(speak, "you know") + quiet(0.4)
    samples = _floats(pcm)
    # Where the talker paused: after three sentences (long enough to be known), after the
    # fourth, and after two more words (under TAIL_MIN_SAMPLES later).
    ends = [
        len(b"".join(voiced(speak, s) + quiet(0.4) for s in SENTENCES[:n])) // 2 for n in (3, 4)
    ]
    pauses = [*ends, len(samples)]
    assert ends[0] >= KNOWN_MIN_SAMPLES and len(samples) - ends[1] < TAIL_MIN_SAMPLES

    async def scenario() -> list[Transcript]:
        conversation = Conversation(agent=agent, vad=SileroVAD(), user=user, sample_rate=RATE)
        return [(await conversation.hearing.heard(samples[:end], pinned=None))[0] for end in pauses]

    try:
        heard = asyncio.run(scenario())
    finally:
        store.close()
    # The last read begins where the first was known: the fourth sentence and two words.
    assert stt.read[1] < ends[1] - ends[0] + TAIL_MIN_SAMPLES, stt.read
    assert stt.read[2] < len(samples) - ends[0] + TAIL_MIN_SAMPLES, stt.read
    said = " ".join([*SENTENCES[:4], "you know"])
    assert wer(said, heard[-1].text) <= 0.2, heard[-1].text


def test_a_carried_turn_keeps_its_known_part_as_text(settings, local_providers, speak) -> None:
    """A turn withdrawn as its speaker goes on is carried from its latest known start: the
    audio after it is all that is kept, and the next transcript reads only that audio (and
    what was said since), opened by the known part's words."""
    stt = Counting(local_providers.stt)
    store, agent, user = _talker(settings, local_providers, "carrier", stt)
    first = len(b"".join(voiced(speak, s) + quiet(0.4) for s in SENTENCES[:3])) // 2
    turn = b"".join(voiced(speak, s) + quiet(0.4) for s in SENTENCES[:4])
    samples = _floats(turn)
    more = voiced(speak, SENTENCES[4]) + quiet(0.4)
    then = _floats(more)
    assert first >= KNOWN_MIN_SAMPLES and len(samples) - first >= TAIL_MIN_SAMPLES

    async def scenario() -> tuple[np.ndarray, Transcript]:
        conversation = Conversation(agent=agent, vad=SileroVAD(), user=user, sample_rate=RATE)
        hearing = conversation.hearing
        await hearing.heard(samples[:first], pinned=None)  # a pause after three sentences
        kept = hearing.carried(samples)  # the turn after four, withdrawn
        return kept, (await hearing.heard(np.concatenate([kept, then]), pinned=None))[0]

    try:
        kept, heard = asyncio.run(scenario())
    finally:
        store.close()
    assert len(kept) == len(samples) - first
    pad = stt.read[0] - first  # the recogniser's own silence around what it reads
    assert stt.read == [first + pad, len(kept) + len(then) + pad], stt.read
    assert wer(" ".join(SENTENCES), heard.text) <= 0.2, heard.text
    assert heard.language == "en"


def test_talk_on_past_the_longest_turn_is_held_as_text_and_the_latest_audio(
    tmp_path, local_providers, speak
) -> None:
    """Someone talks on past MAX_UTTERANCE_S again and again, each turn withdrawn unheard
    (or cut off when its answer began): the audio held stays about a turn long instead of
    growing with the talk (64 KB a second, without end), and every word is stored."""
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "data", smart_turn=False, max_utterance_s=2.5)
    store, agent, user = _talker(settings, local_providers, "talks-long")
    said = [*SENTENCES[:-1], *SENTENCES]  # 26 s, a turn ended every 2.5 s
    speech = b"".join(voiced(speak, s) + quiet(0.3) for s in said[:-1])
    speech += voiced(speak, said[-1]) + quiet(2.0)
    talk_s = len(speech) / 2 / RATE

    async def scenario() -> tuple[list[ev.Event], float, str]:
        conversation = Conversation(agent=agent, vad=SileroVAD(), user=user, sample_rate=RATE)
        session_id = await conversation.start()
        events: list[ev.Event] = []

        async def collect() -> None:
            async for event in conversation.events():
                events.append(event)
                if isinstance(event, ev.TurnComplete) and event.user_text.endswith("Europe."):
                    return

        collector = asyncio.create_task(collect())
        held = 0.0  # the most audio held in the second half of the talk
        for i in range(0, len(speech), FRAME):
            conversation.feed(speech[i : i + FRAME])
            if i > len(speech) // 2:
                held = max(held, conversation.turns.held_s)
            await asyncio.sleep(0.02)  # real time: transcriptions run meanwhile
        await asyncio.wait_for(collector, 120)
        await conversation.close()
        return events, held, session_id

    try:
        events, held, session_id = asyncio.run(scenario())
        turns = store.list_turns(user_id=user.id, session_id=session_id)
    finally:
        store.close()
    ends = sum(isinstance(e, ev.SpeechStopped) for e in events)
    assert ends >= 8, [type(e).__name__ for e in events]  # withdrawn turns carried on
    # Measured here: 5.0 s; 12.4 s before (all said since the last answer that began).
    assert held < talk_s / 3, (held, talk_s)
    # Every word is stored once: in the last turn, or in a turn whose answer began.
    stored = " ".join(turn.user_text for turn in turns)
    assert wer(" ".join(said), stored) <= 0.25, stored
