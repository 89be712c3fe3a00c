"""The end-of-turn model: Smart Turn hears a finished question from a sentence still going on,
and a turn whose voice sounds unfinished waits through a longer pause."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelMissingError
from core.listening.smart_turn import SmartTurn, bundled_path
from core.listening.vad import SileroVAD
from tests.helpers import pcm16


@pytest.fixture(scope="module")
def model() -> SmartTurn:
    return SmartTurn()


def voiced(speak, text: str) -> bytes:
    """Piper's speech of `text` without its trailing silence, so a test counts the pause."""
    from bench.common import voiced_end

    pcm = pcm16(speak(text))
    return pcm[: voiced_end(pcm, 16000, frame_ms=10) * 320]


def samples(speak, text: str) -> np.ndarray:
    return np.frombuffer(pcm16(speak(text)), dtype="<i2").astype(np.float32) / 32768


def test_a_finished_question_sounds_complete_and_a_trailing_um_does_not(
    model: SmartTurn, speak
) -> None:
    assert model.complete(samples(speak, "What is the capital of France?")) > 0.8
    assert model.complete(samples(speak, "What is the capital of, um")) < 0.2
    assert model.complete(samples(speak, "I was reading about the solar system, and")) < 0.2
    # Longer than the model's 8 s: the end is what counts.
    long = samples(speak, "I went to the market this morning and bought some apples. " * 3)
    assert len(long) > 8 * 16000
    assert 0.0 <= model.complete(long) <= 1.0


def test_a_damaged_or_missing_model_says_what_to_reinstall(tmp_path: Path) -> None:
    broken = tmp_path / "smart-turn.onnx"
    broken.write_bytes(bundled_path().read_bytes()[:4096])
    with pytest.raises(ModelMissingError, match="pip install --no-deps --force-reinstall pipecat"):
        SmartTurn(broken)


class _Listener:
    def __init__(self) -> None:
        self.ended: list[float] = []

    def agent_busy(self) -> bool:
        return False

    def speech_started(self, *, at_ms: int, barge_in: bool) -> None:
        pass

    def paused(self, samples: np.ndarray) -> None:
        pass

    def resumed(self) -> None:
        pass

    def speech_ended(self, samples: np.ndarray, *, at_ms: int, last_voice_at: float) -> None:
        self.ended.append(at_ms / 1000)


@pytest.mark.parametrize("unfinished", [False, True])
def test_a_pause_heard_as_mid_sentence_does_not_end_the_turn(
    settings, speak, unfinished: bool
) -> None:
    from core.realtime.turns import TurnTaker

    listener = _Listener()
    turns = TurnTaker(vad=SileroVAD(), settings=settings, sample_rate=16000, listener=listener)
    first = pcm16(speak("Can you tell me"))
    rest = pcm16(speak("how many legs a spider has?"))
    pause = b"\x00\x00" * int(16000 * 0.2)
    turns.feed(b"\x00\x00" * 8000 + first + pause)  # the pause has begun
    if unfinished:
        turns.turn_unfinished()  # what the engine does when Smart Turn says so
    turns.feed(b"\x00\x00" * int(16000 * 0.6) + rest + b"\x00\x00" * 32000)
    # 0.8 s of pause: past VAD_STOP_MS (the turn ends in it), within VAD_STOP_UNFINISHED_MS.
    assert len(listener.ended) == (1 if unfinished else 2)


def test_the_engine_waits_through_a_pause_mid_sentence_and_answers_the_whole_turn(
    settings, local_providers
) -> None:
    """The real engine with the real models: a sentence spoken whole by Piper, cut after
    "and, um," with 0.7 s of silence put in (the voice keeps its mid-sentence tone up to the
    cut). Without the end-of-turn model, VAD_STOP_MS (0.4 s) ends the turn in that pause.
    Piper's voice varies from one process to the next: a cut after a bare "and" was heard as
    anything from 0.24 to 0.94 complete, a cut after "and, um," at 0.005-0.006 every time."""
    import asyncio
    import dataclasses

    from bench.common import speech_with_pauses
    from core.agent import Agent
    from core.history import HistoryStore
    from core.realtime import events as ev
    from core.realtime.engine import Conversation

    providers = dataclasses.replace(local_providers, turn_model=SmartTurn())
    store = HistoryStore.open(settings.sqlalchemy_url)
    agent = Agent(settings=settings, providers=providers, store=store)
    user = store.create_user(username="pauser", password_hash="x")
    ((_, speech),) = speech_with_pauses(
        [
            # No comma before "and": the cut goes to the quietest spot near the mark, and
            # Piper's pause at such a comma was once taken, ending "...yesterday," which is a
            # whole statement. Cut at either comma left, the words before it go on.
            "I was reading about the solar system yesterday and, um, |0.7| I wondered which "
            "planet is the largest."
        ]
    )
    quiet = b"\x00\x00" * 16000
    audio = quiet + speech + quiet * 2

    async def scenario() -> list[ev.Event]:
        conversation = Conversation(agent=agent, vad=SileroVAD(), user=user, sample_rate=16000)
        await conversation.start()
        events: list[ev.Event] = []

        async def collect() -> None:
            async for event in conversation.events():
                events.append(event)
                if isinstance(event, ev.TurnComplete):
                    return

        collector = asyncio.create_task(collect())
        for i in range(0, len(audio), 640):  # 20 ms frames, paced like a live stream
            conversation.feed(audio[i : i + 640])
            await asyncio.sleep(0.02)
        await asyncio.wait_for(collector, 60)
        await conversation.close()
        return events

    events = asyncio.run(scenario())
    store.close()
    stops = [e for e in events if isinstance(e, ev.SpeechStopped)]
    final = [e for e in events if isinstance(e, ev.TranscriptEvent) and e.final]
    assert len(stops) == 1 and len(final) == 1, events
    heard = final[0].text.lower()
    assert "solar system" in heard and "largest" in heard


def test_a_pause_waits_for_a_slow_verdict_then_the_vad_rule_applies(settings, speak) -> None:
    """A verdict that comes late (a busy CPU) does not let VAD_STOP_MS cut the pause first;
    an unsure verdict then ends a pause already longer than VAD_STOP_MS at once."""
    from core.realtime.turns import TurnTaker

    listener = _Listener()
    turns = TurnTaker(vad=SileroVAD(), settings=settings, sample_rate=16000, listener=listener)
    turns.feed(b"\x00\x00" * 8000 + pcm16(speak("What is the capital of France?")))
    turns.feed(b"\x00\x00" * int(16000 * 0.1))
    turns.judging()  # what the engine does at the pause
    turns.feed(b"\x00\x00" * int(16000 * 0.6))  # past VAD_STOP_MS
    assert listener.ended == []
    turns.turn_uncertain()
    assert len(listener.ended) == 1


@pytest.mark.parametrize("transcript_first", [True, False])
def test_a_complete_question_ends_the_turn_whatever_order_the_verdicts_come_in(
    settings, speak, transcript_first: bool
) -> None:
    """The transcript and the end-of-turn model answer in whichever order the CPU allows; a
    complete-question transcript ends the pause after VAD_STOP_FINISHED_MS either way (two
    conversations at once used to differ by a second here)."""
    from core.realtime.turns import TurnTaker

    listener = _Listener()
    turns = TurnTaker(vad=SileroVAD(), settings=settings, sample_rate=16000, listener=listener)
    turns.feed(b"\x00\x00" * 8000 + voiced(speak, "What is the capital of France?"))
    turns.feed(b"\x00\x00" * int(16000 * 0.15))  # the VAD hears the pause a little late
    turns.judging()
    verdicts = [
        lambda: turns.transcript_heard("What is the capital of France?"),
        turns.turn_unfinished,
    ]
    for verdict in verdicts if transcript_first else verdicts[::-1]:
        verdict()
    assert listener.ended == []
    turns.feed(b"\x00\x00" * int(16000 * 0.15))  # 0.3 s of pause: short of VAD_STOP_MS
    assert len(listener.ended) == 1


@pytest.mark.parametrize(
    ("transcript", "ends"),
    [
        ("I like tea.", "at once"),
        ("Okay.", "after VAD_STOP_MS"),
        ("I was reading about the solar system yesterday,", "held"),
        ("Can you tell me?", "held"),
    ],
)
def test_a_sure_verdict_ends_the_turn_early_only_on_a_statement(
    settings, speak, transcript: str, ends: str
) -> None:
    """The model is sure, as it can be at a comma Piper says like a full stop, after an
    "Okay." said before the rest, or after "Can you tell me": the turn ends after the short
    silence only once the transcript is a statement of three words or more; a word or two
    waits VAD_STOP_MS, a transcript that goes on VAD_STOP_UNFINISHED_MS."""
    from core.realtime.turns import TurnTaker

    listener = _Listener()
    turns = TurnTaker(vad=SileroVAD(), settings=settings, sample_rate=16000, listener=listener)
    turns.feed(b"\x00\x00" * 8000 + voiced(speak, "I like tea."))
    turns.feed(b"\x00\x00" * int(16000 * 0.15))  # the VAD hears the pause a little late
    turns.judging()
    turns.turn_finished()
    turns.feed(b"\x00\x00" * int(16000 * 0.15))  # 0.3 s: past VAD_STOP_FINISHED_MS
    assert listener.ended == []  # no transcript yet, no short cut
    turns.transcript_heard(transcript)
    assert len(listener.ended) == (1 if ends == "at once" else 0)
    turns.feed(b"\x00\x00" * int(16000 * 0.2))  # 0.5 s: past VAD_STOP_MS
    assert len(listener.ended) == (0 if ends == "held" else 1)
    turns.feed(b"\x00\x00" * int(16000 * 0.8))  # 1.3 s: past VAD_STOP_UNFINISHED_MS
    assert len(listener.ended) == 1


class _ScriptedVAD:
    """The VAD's verdicts, one per 32 ms window, as written: to test the counting on top."""

    def __init__(self, voiced: str) -> None:
        self.voiced = voiced

    def stream(self) -> _ScriptedVAD:
        return self

    def process(self, chunk: np.ndarray) -> list[float]:
        from core.listening.vad import WINDOW

        count = len(chunk) // WINDOW
        probs = [1.0 if v == "#" else 0.0 for v in self.voiced[:count]]
        self.voiced = self.voiced[count:]
        return probs


class _BusyListener(_Listener):
    def __init__(self) -> None:
        super().__init__()
        self.started: list[tuple[int, bool]] = []

    def agent_busy(self) -> bool:
        return True

    def speech_started(self, *, at_ms: int, barge_in: bool) -> None:
        self.started.append((at_ms, barge_in))


@pytest.mark.parametrize(
    ("voiced", "starts_at_window"),
    [
        ("..######......", 8),  # six voiced windows in a row: BARGE_IN_MS
        ("..###.###.....", 9),  # "Wait," with one window that dips: still a barge-in
        ("..##...##...##", None),  # bursts of noise: never six within eight
    ],
)
def test_a_barge_in_forgives_one_window_that_dips(
    settings, voiced: str, starts_at_window: int | None
) -> None:
    from core.listening.vad import WINDOW, WINDOW_MS
    from core.realtime.turns import TurnTaker

    listener = _BusyListener()
    turns = TurnTaker(
        vad=_ScriptedVAD(voiced),  # type: ignore[arg-type]
        settings=settings,
        sample_rate=16000,
        listener=listener,
    )
    turns.feed(b"\x00\x00" * WINDOW * len(voiced))
    if starts_at_window is None:
        assert listener.started == []
    else:
        assert listener.started == [(starts_at_window * WINDOW_MS, True)]


class _BrokenSmartTurn(SmartTurn):
    """The real model whose every verdict fails, as a damaged model file's would."""

    def complete(self, samples: np.ndarray) -> float:
        raise RuntimeError("the end-of-turn model failed")


def test_a_failed_verdict_leaves_the_turn_to_the_vad_and_tells_the_client_nothing(
    settings, local_providers, speak
) -> None:
    """The verdict's task fails and its reader lets the VAD alone end the turn: the client
    gets its answer and no `error` event (a task failure of the conversation is told only
    when nobody else answers for it)."""
    import asyncio
    import dataclasses

    from core.agent import Agent
    from core.history import HistoryStore
    from core.realtime import events as ev
    from core.realtime.engine import Conversation

    providers = dataclasses.replace(local_providers, turn_model=_BrokenSmartTurn())
    store = HistoryStore.open(settings.sqlalchemy_url)
    agent = Agent(settings=settings, providers=providers, store=store)
    user = store.create_user(username="pauser", password_hash="x")
    quiet = b"\x00\x00" * 16000
    audio = quiet + pcm16(speak("What is the capital of France?")) + quiet * 2

    async def scenario() -> list[ev.Event]:
        conversation = Conversation(agent=agent, vad=SileroVAD(), user=user, sample_rate=16000)
        await conversation.start()
        events: list[ev.Event] = []

        async def collect() -> None:
            async for event in conversation.events():
                events.append(event)
                if isinstance(event, ev.TurnComplete):
                    return

        collector = asyncio.create_task(collect())
        for i in range(0, len(audio), 640):
            conversation.feed(audio[i : i + 640])
            await asyncio.sleep(0.005)
        await asyncio.wait_for(collector, 60)
        await conversation.close()
        return events

    events = asyncio.run(scenario())
    store.close()
    assert any(isinstance(e, ev.TurnComplete) for e in events), events
    assert not [e for e in events if isinstance(e, ev.ErrorEvent)], events
