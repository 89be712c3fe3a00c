"""Abandoned work is cancelled: a person talking without a pause keeps at most one
transcription waiting, never delays another person's turn beyond the job running, and leaves
nothing behind when they hang up. Real models throughout (Silero VAD, Whisper, Smart Turn,
Piper's speech as the talker)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core.agent import Agent
from core.audio import AudioFormat, DecodedAudio
from core.concurrency import Abandoned, Ticket, working_on
from core.history import HistoryStore
from core.listening.smart_turn import SmartTurn
from core.listening.vad import SileroVAD
from core.realtime import events as ev
from core.realtime.engine import Conversation
from tests.helpers import pcm16, wer

RATE = 16000
FRAME = 640  # 20 ms of PCM16
# "going on" to the transcript rule, so the first pause never ends the turn
OPENING = "I would like to know, um"
SENTENCES = [
    "we could drive up to the lake on Saturday morning",
    "my sister says the water is still cold in May",
    "but the trails around it are lovely this time of year",
    "and there is a small cafe that bakes its own bread",
    "we might stay the night if the weather holds",
    "or come back late and sleep in on Sunday",
    "the car needs new tyres before a long drive",
    "so I should book the garage for Thursday",
]
PRESS_TO_TALK = "How many days are in a week?"


def voiced(speak: Callable[[str], Path], text: str) -> bytes:
    """Piper's speech of `text` without the silence around it, so the test sets every pause."""
    from bench.common import voiced_end

    pcm = pcm16(speak(text))
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples) > 328)  # above 1 % of full scale
    start = max(0, int(loud[0]) - RATE // 100) if len(loud) else 0
    return pcm[start * 2 : voiced_end(pcm, RATE, frame_ms=10) * 320]


def quiet(seconds: float) -> bytes:
    return b"\x00\x00" * int(RATE * seconds)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.001)


def first_served(served: Callable[[], bool], then: Callable[[], int]) -> int:
    """`then()` at the first moment `served()` holds (polled every millisecond)."""
    wait_until(served)
    return then()


@dataclass(frozen=True)
class Trial:
    """What the nonstop talker's trial saw."""

    pauses: int
    most: dict[str, int]  # the most of the talker's calls waiting at once, per model
    waiting_at_end: int
    talker_waiting: int  # the talker's calls waiting when the press-to-talk was served
    heard: str  # the press-to-talk's transcript
    busy: tuple[int, int, int]  # calls holding or waiting for each model after it all
    events: list[ev.Event]


@pytest.fixture(scope="module")
def turn_model() -> SmartTurn:
    return SmartTurn()


def test_a_nonstop_talker_keeps_one_transcription_waiting_and_leaves_nothing_when_gone(
    settings, local_providers, turn_model: SmartTurn, speak
) -> None:
    """The issue's browser trial, in the engine: nonstop speech with short pauses and turns
    that end and are withdrawn when the talker goes on, while another person's job holds the
    speech recogniser and the end-of-turn model. At every moment at most one transcription and
    one verdict of the talker wait. Another user's press-to-talk, queued behind the talker's
    waiting transcription, is served first once the model is free (the talker was served
    before). The talker hangs up: within a second none of their work waits anywhere."""
    providers = dataclasses.replace(local_providers, turn_model=turn_model)
    stt, llm = providers.stt, providers.llm
    assert stt.lock is not None and llm.lock is not None
    store = HistoryStore.open(settings.sqlalchemy_url)
    agent = Agent(settings=settings, providers=providers, store=store)
    talker = store.create_user(username="talker", password_hash="x")
    listener = store.create_user(username="listener", password_hash="x")
    opening = voiced(speak, OPENING)
    # Short pauses that only pause; after the third and the sixth sentence one long enough to
    # end the turn, so its answer starts and is withdrawn when the talker goes on; at the end,
    # silence that ends the last turn.
    rest = b""
    for i, sentence in enumerate(SENTENCES):
        rest += voiced(speak, sentence) + quiet(1.6 if i in (2, 5, 7) else 0.25)
    press_to_talk = DecodedAudio(
        samples=np.frombuffer(pcm16(speak(PRESS_TO_TALK)), dtype="<i2").astype(np.float32) / 32768,
        format=AudioFormat.WAV,
    ).to_wav()
    someone_else = Ticket(owner="someone else")

    async def scenario() -> Trial:
        conversation = Conversation(agent=agent, vad=SileroVAD(), user=talker, sample_rate=RATE)
        await conversation.start()
        me = conversation.owner
        events: list[ev.Event] = []

        async def collect() -> None:
            async for event in conversation.events():
                events.append(event)

        collector = asyncio.create_task(collect())
        pauses = 0
        paused = conversation.paused

        def counting(samples: np.ndarray) -> None:
            nonlocal pauses
            pauses += 1
            paused(samples)

        conversation.paused = counting  # type: ignore[method-assign]
        # The opening and a pause: its transcript comes back (the talker has been served).
        # Silence enough for a pause (64 ms), not for a turn to end (160 ms at the least).
        conversation.feed(quiet(0.5) + opening + quiet(0.13))
        for _ in range(600):
            if any(isinstance(e, ev.TranscriptEvent) for e in events):
                break
            await asyncio.sleep(0.05)
        guessed = [e for e in events if isinstance(e, ev.TranscriptEvent)]
        assert guessed, "the opening pause was transcribed"
        # Another person's long jobs now hold both models; the talker goes on and on.
        stt.lock.acquire(someone_else)
        turn_model.lock.acquire(someone_else)
        most = {"stt": 0, "turn": 0}
        for i in range(0, len(rest), FRAME):
            conversation.feed(rest[i : i + FRAME])
            await asyncio.sleep(0.004)  # faster than real time; the tasks it starts still run
            most["stt"] = max(most["stt"], stt.lock.waiting_for(me))
            most["turn"] = max(most["turn"], turn_model.lock.waiting_for(me))
        await asyncio.sleep(0.2)
        waiting_at_end = stt.lock.waiting_for(me)
        # Another user's press-to-talk comes in behind the talker's last turn.
        other = asyncio.ensure_future(agent.transcribe(user=listener, audio=press_to_talk))
        await asyncio.to_thread(wait_until, lambda: stt.lock.waiting_for(None) == 1)
        stt.lock.release()
        turn_model.lock.release()
        # The first of the two served: the talker's transcription still waits when it is.
        talker_waiting = await asyncio.to_thread(
            first_served,
            lambda: stt.lock.waiting_for(None) == 0,
            lambda: stt.lock.waiting_for(me),
        )
        # The talker hangs up while the press-to-talk is transcribed: within a second none
        # of their work waits for any model.
        await conversation.close()
        await asyncio.to_thread(
            wait_until,
            lambda: (
                stt.lock.waiting_for(me) + turn_model.lock.waiting_for(me) + llm.lock.ahead == 0
            ),
            1.0,
        )
        heard = await other
        await asyncio.sleep(0.3)  # what the talker left behind would hold the model by now
        await collector
        return Trial(
            pauses=pauses,
            most=most,
            waiting_at_end=waiting_at_end,
            talker_waiting=talker_waiting,
            heard=heard.text,
            busy=(stt.lock.ahead, turn_model.lock.ahead, llm.lock.ahead),
            events=events,
        )

    try:
        got = asyncio.run(scenario())
    finally:
        for lock in (stt.lock, turn_model.lock):
            if lock.ahead > lock.waiting:  # held still: a failed run must not keep the model
                lock.release()
        store.close()
    assert got.pauses >= len(SENTENCES) + 1  # a guess and a verdict on every pause
    assert got.most == {"stt": 1, "turn": 1}  # never more than one of each waiting
    assert got.waiting_at_end == 1  # the last turn's transcription
    kinds = [type(e) for e in got.events]
    heard = [e.text for e in got.events if isinstance(e, ev.TranscriptEvent)]
    assert kinds.count(ev.Resumed) == 2, heard  # each turn that ended was withdrawn
    assert ev.TurnComplete not in kinds and ev.AudioStart not in kinds
    assert got.talker_waiting == 1  # the press-to-talk went first
    assert wer(PRESS_TO_TALK, got.heard) <= 0.2, got.heard
    assert got.busy == (0, 0, 0)  # nothing of the talker's ran after the hang-up


def test_a_long_transcription_abandoned_while_it_runs_stops_after_the_window_in_hand(
    local_stt, speak
) -> None:
    """Over 25 s, Whisper transcribes window by window; cancelled once it runs, it stops at
    the next window instead of transcribing the rest for nobody."""
    pcm = b"".join(voiced(speak, s) + quiet(0.3) for s in SENTENCES * 3)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    audio = DecodedAudio(samples=samples, format=AudioFormat.WAV)
    assert audio.duration > 60  # three windows of 30 s
    ticket = Ticket()
    outcome: list[object] = []

    def transcribe() -> None:
        with working_on(ticket):
            try:
                outcome.append(local_stt.transcribe(audio, language="en"))
            except Abandoned as exc:
                outcome.append(exc)

    thread = threading.Thread(target=transcribe)
    thread.start()
    wait_until(lambda: local_stt.lock.ahead == 1)  # it holds the model
    ticket.cancel()
    thread.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], Abandoned), outcome
    assert local_stt.lock.ahead == 0
