"""The real-time engine's parts: streaming VAD, resampling, what was heard, turn-taking."""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import numpy as np
import pytest

from core.agent import Agent
from core.errors import NotFoundError
from core.history import HistoryStore
from core.listening.vad import WINDOW, SileroVAD
from core.realtime import events as ev
from core.realtime.engine import Conversation
from core.realtime.heard import heard_text
from core.realtime.resample import Resampler
from tests.gtts_server import FakeGoogle, gtts_server_fixture  # noqa: F401
from tests.helpers import pcm16, wer

QUESTION = "How many days are in a week?"


@pytest.fixture(scope="module")
def vad() -> SileroVAD:
    return SileroVAD()


def speech_samples(speak, text: str) -> np.ndarray:
    return np.frombuffer(pcm16(speak(text)), dtype="<i2").astype(np.float32) / 32768


def test_vad_finds_speech_and_not_silence(vad: SileroVAD, speak) -> None:
    speech = speech_samples(speak, QUESTION)
    audio = np.concatenate([np.zeros(16000, np.float32), speech, np.zeros(16000, np.float32)])
    probs = vad.stream().process(audio)
    assert len(probs) == len(audio) // WINDOW
    lead = probs[: 16000 // WINDOW - 1]
    voiced = probs[16000 // WINDOW : (16000 + len(speech)) // WINDOW]
    assert max(lead) < 0.2
    assert np.mean(np.array(voiced) > 0.5) > 0.6


def test_vad_gives_the_same_answer_whatever_the_chunking(vad: SileroVAD, speak) -> None:
    audio = speech_samples(speak, QUESTION)
    whole = vad.stream().process(audio)
    stream = vad.stream()
    pieces: list[float] = []
    for i in range(0, len(audio), 333):
        pieces += stream.process(audio[i : i + 333])
    assert np.allclose(whole, pieces, atol=1e-5)


def test_resampling_keeps_the_pitch_and_the_length() -> None:
    rate = 48000
    t = np.arange(rate) / rate
    tone = (np.sin(2 * np.pi * 440 * t) * 10000).astype("<i2")
    resample = Resampler(rate, 16000)
    out = np.concatenate([resample(tone[i : i + 960].tobytes()) for i in range(0, rate, 960)])
    assert abs(len(out) - 16000) < 100
    spectrum = np.abs(np.fft.rfft(out.astype(np.float32)))
    peak_hz = np.argmax(spectrum) * 16000 / len(out)
    assert abs(peak_hz - 440) < 5
    assert Resampler(16000, 16000)(b"\x01\x00\x02\x00").tolist() == [1, 2]
    assert Resampler(8000, 16000)(b"").tolist() == []


def test_heard_text_counts_whole_pieces_then_words_in_proportion() -> None:
    pieces = [("The capital of France is Paris.", 2.0), ("It is a lovely city to visit.", 2.0)]
    assert heard_text(pieces, 0.0) == ""
    assert heard_text(pieces, 2.0) == "The capital of France is Paris."
    assert heard_text(pieces, 3.0) == "The capital of France is Paris. It is a"
    assert (
        heard_text(pieces, 9.0) == "The capital of France is Paris. It is a lovely city to visit."
    )
    assert heard_text([], 5.0) == ""


async def _collect(conversation: Conversation, until: type, seconds: float = 60) -> list:
    got: list = []

    async def run() -> None:
        async for event in conversation.events():
            got.append(event)
            if isinstance(event, until):
                return

    await asyncio.wait_for(run(), seconds)
    return got


def test_a_conversation_turn_from_pcm_at_another_rate(
    settings, local_providers, vad: SileroVAD, speak
) -> None:
    """The engine on its own (no web layer): 8 kHz audio in, a stored turn and speech out."""
    store = HistoryStore.open(settings.sqlalchemy_url)
    agent = Agent(settings=settings, providers=local_providers, store=store)
    user = store.create_user(username="caller", password_hash="x")
    audio = pcm16(speak(QUESTION), rate=8000)

    async def scenario() -> list:
        conversation = Conversation(agent=agent, vad=vad, user=user, sample_rate=8000)
        await conversation.start()
        quiet = b"\x00\x00" * 8000
        for i in range(0, len(quiet + audio + quiet), 320):
            conversation.feed((quiet + audio + quiet)[i : i + 320])
        events = await _collect(conversation, ev.TurnComplete)
        await conversation.finish()  # the listener hears the answer out, then hangs up
        await conversation.close()
        return events

    events = asyncio.run(scenario())
    kinds = [type(e) for e in events]
    assert kinds[0] is ev.Ready and ev.SpeechStarted in kinds and ev.SpeechStopped in kinds
    final = next(e for e in events if isinstance(e, ev.TranscriptEvent) and e.final)
    assert wer(QUESTION, final.text) <= 0.2
    audio_out = b"".join(e.pcm for e in events if isinstance(e, ev.AudioOut))
    assert len(audio_out) > 22050 * 2 * 0.5
    done = events[-1]
    assert isinstance(done, ev.TurnComplete) and done.answer and not done.interrupted
    (turn,) = store.list_turns(user_id=user.id, session_id=done.session_id)
    assert turn.source == "voice" and turn.answer == done.answer
    assert turn.first_audio_ms == done.timings.first_audio_ms is not None
    store.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What is the capital of France?", "question"),
        ("Quelle heure est-il ?", "question"),
        ("¿Qué hora es?", "question"),
        ("Tell me a joke.", "said"),
        ("I am planning a picnic this weekend.", "said"),
        ("Hola!", "brief"),
        ("And then what?", "question"),
        ("Do you think that?", "going on"),
        ("I would like to know", "going on"),
        ("Okay.", "brief"),
        ("Wait, stop.", "brief"),
        ("I would like to know, um", "going on"),
        ("Can you tell me about the", "going on"),
        ("Can you tell me?", "going on"),
        ("Dis-moi ?", "going on"),
        ("Do you know?", "going on"),
        ("Can you tell me how many legs a spider has?", "question"),
        ("I'd like to know.", "going on"),
        ("I went to the shop and?", "going on"),
        ("So what do you think...", "going on"),
        ("Well, I was wondering,", "going on"),
        ("Je voudrais savoir si et.", "going on"),
        ("", "brief"),
        ("42.", "brief"),
    ],
)
def test_a_transcript_sounds_finished_going_on_or_neither(text: str, expected: str) -> None:
    from core.realtime.turn_end import heard, sounds_finished

    assert heard(text) == expected
    assert sounds_finished(text) is (expected == "question")


class _Recorder:
    """Records what a TurnTaker decides (the listener, not the thing under test)."""

    def __init__(self, busy: bool = False) -> None:
        self.calls: list[str] = []
        self.busy = busy

    def agent_busy(self) -> bool:
        return self.busy

    def speech_started(self, *, at_ms: int, barge_in: bool) -> None:
        self.calls.append("barge-in" if barge_in else "started")

    def paused(self, samples: np.ndarray) -> None:
        self.calls.append("paused")

    def resumed(self) -> None:
        self.calls.append("resumed")

    def speech_ended(self, samples: np.ndarray, *, at_ms: int, last_voice_at: float) -> None:
        self.calls.append(f"ended:{len(samples) / 16000:.1f}")


def test_turn_taking_in_audio_time(settings, vad: SileroVAD, speak) -> None:
    from core.realtime.turns import TurnTaker

    speech = pcm16(speak(QUESTION))
    gap = b"\x00\x00" * int(16000 * 0.05)  # with Piper's own edges, under VAD_STOP_MS
    quiet = b"\x00\x00" * 16000
    recorder = _Recorder()
    turns = TurnTaker(vad=vad, settings=settings, sample_rate=16000, listener=recorder)
    turns.feed(quiet + speech + gap + speech + quiet)
    assert recorder.calls[0] == "started" and recorder.calls[-1].startswith("ended:")
    assert recorder.calls.count("started") == 1 and recorder.calls.count("paused") >= 2
    assert "resumed" in recorder.calls
    # The utterance holds both sentences and the gap, plus the pre-roll and the stop silence.
    assert float(recorder.calls[-1].split(":")[1]) > 2 * len(speech) / 32000
    # While the agent speaks, a short noise is not enough to take the turn: speech is.
    busy = _Recorder(busy=True)
    turns = TurnTaker(vad=vad, settings=settings, sample_rate=16000, listener=busy)
    turns.feed(quiet + speech[: 16000 // 10 * 2] + quiet)
    assert busy.calls == []
    turns.feed(speech + quiet)
    assert busy.calls[0] == "barge-in"


def test_with_prefill_the_pause_prompt_is_read_ahead_and_the_turn_is_answered_whole(
    tmp_path, local_providers, vad: SileroVAD, monkeypatch
) -> None:
    """LLM_PREFILL on: at a pause inside the question the model reads "What is the capital"
    ahead (for real); the user goes on, and the whole question is answered, with no `queued`
    for the engine's own reading ahead."""
    from bench.common import speech_with_pauses
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "data", llm_prefill=True, vad_stop_ms=1000)
    llm = local_providers.llm
    read_ahead: list[bool] = []
    original = llm.prefill

    def counting(messages):  # type: ignore[no-untyped-def]
        read_ahead.append(original(messages))
        return read_ahead[-1]

    monkeypatch.setattr(llm, "prefill", counting)
    store = HistoryStore.open(settings.sqlalchemy_url)
    agent = Agent(settings=settings, providers=local_providers, store=store)
    user = store.create_user(username="prefilled", password_hash="x")
    ((_, speech),) = speech_with_pauses(["What is the capital |0.7| of France?"])
    quiet = b"\x00\x00" * 16000
    audio = quiet + speech + quiet

    async def scenario() -> list:
        conversation = Conversation(agent=agent, vad=vad, user=user, sample_rate=16000)
        await conversation.start()
        for i in range(0, len(audio), 640):  # paced like a live stream, so the pause has time
            conversation.feed(audio[i : i + 640])
            await asyncio.sleep(0.02)
        events = await _collect(conversation, ev.TurnComplete)
        await conversation.close()
        return events

    events = asyncio.run(scenario())
    store.close()
    assert True in read_ahead, read_ahead
    assert not any(isinstance(e, ev.Queued) for e in events)
    final = [e for e in events if isinstance(e, ev.TranscriptEvent) and e.final]
    # One turn, with the words from both sides of the pause (Whisper may hear "France" as
    # "friends" after the cut).
    assert len(final) == 1, final
    words = final[0].text.lower().strip(" ?.").split()
    assert "capital" in words and words.index("capital") < len(words) - 2, final
    done = events[-1]
    assert isinstance(done, ev.TurnComplete) and done.answer, done


class _HeldVoice:
    """The real English voice, which speaks only once `voice` is set."""

    def __init__(self, tts, voice: threading.Event) -> None:  # type: ignore[no-untyped-def]
        self._tts, self._voice = tts, voice

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._tts, name)

    def synthesize(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._voice.wait(60)
        return self._tts.synthesize(*args, **kwargs)


def test_going_on_before_the_answer_is_heard_withdraws_it_and_answers_all_that_was_said(
    tmp_path, local_providers, vad: SileroVAD, speak
) -> None:
    """A word ("Okay.") and a pause long enough to end the turn; the turn is stored and its answer
    runs, but before any of it is spoken the user goes on. No `interrupted`: the unheard turn
    is withdrawn (`resumed`), and one turn answers both sides of the pause. The voice is held
    back until the user has gone on, so "before any audio" does not depend on the CPU."""
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "data", smart_turn=False, vad_stop_ms=400)
    voice = threading.Event()
    tts = local_providers.tts
    assert tts is not None
    held = dataclasses.replace(tts, english=_HeldVoice(tts.english, voice))
    store = HistoryStore.open(settings.sqlalchemy_url)
    agent = Agent(
        settings=settings, providers=dataclasses.replace(local_providers, tts=held), store=store
    )
    user = store.create_user(username="goes-on", password_hash="x")
    quiet = b"\x00\x00" * 16000

    async def scenario() -> tuple[list, str]:
        conversation = Conversation(agent=agent, vad=vad, user=user, sample_rate=16000)
        session_id = await conversation.start()
        conversation.feed(quiet + pcm16(speak("Okay.")) + quiet)  # a turn, by the VAD alone
        for _ in range(600):  # until its transcript is stored and its answer has begun
            await asyncio.sleep(0.05)
            try:  # the session is stored with its first turn
                turns = store.list_turns(user_id=user.id, session_id=session_id)
            except NotFoundError:
                continue
            if turns and turns[0].status == "answering":
                break
        else:
            raise AssertionError("the first turn was never answered")
        conversation.feed(pcm16(speak(QUESTION)) + quiet)
        voice.set()
        events = await _collect(conversation, ev.TurnComplete, seconds=120)
        await conversation.finish()
        await conversation.close()
        return events, session_id

    try:
        events, session_id = asyncio.run(scenario())
        turns = store.list_turns(user_id=user.id, session_id=session_id)
        title = store.get_session(user_id=user.id, session_id=session_id).title
    finally:
        voice.set()
        store.close()
    kinds = [type(e) for e in events]
    assert ev.Resumed in kinds and ev.Interrupted not in kinds, kinds
    assert kinds.index(ev.Resumed) < kinds.index(ev.AudioStart)
    done = events[-1]
    assert isinstance(done, ev.TurnComplete) and done.answer, done
    words = done.user_text.lower()
    assert "okay" in words and "week" in words, done.user_text
    (turn,) = turns  # the withdrawn "Okay." is gone; its words live on in this one
    assert turn.id == done.turn_id and turn.user_text == done.user_text
    assert title == done.user_text[:80]


def test_talking_on_past_the_longest_turn_ends_it_once_per_max_utterance(
    tmp_path, local_providers, vad: SileroVAD, speak
) -> None:
    """Speech without a pause three times MAX_UTTERANCE_S long: the turn ends at the limit,
    its unheard answer is withdrawn as the talker goes on, and the next end comes a whole
    MAX_UTTERANCE_S later, not on the next window (which had ended, transcribed, answered
    and withdrawn a turn every ~0.25 s for as long as the talk went on)."""
    from tests.conftest import make_settings
    from tests.core.test_abandon import voiced

    settings = make_settings(tmp_path / "data", smart_turn=False, max_utterance_s=2.5)
    store = HistoryStore.open(settings.sqlalchemy_url)
    agent = Agent(settings=settings, providers=local_providers, store=store)
    user = store.create_user(username="talks-on", password_hash="x")
    sentences = [
        "I wanted to tell you about my trip to the mountains last summer",
        "we drove up to the lake on a Saturday morning",
        "and my sister said that the water was still cold in May",
    ]
    speech = b"".join(voiced(speak, s) for s in sentences)
    talk_s = len(speech) / 2 / 16000
    assert talk_s > 3 * settings.max_utterance_s

    async def scenario() -> list:
        conversation = Conversation(agent=agent, vad=vad, user=user, sample_rate=16000)
        await conversation.start()
        chunk = 3200  # 0.1 s
        for i in range(0, len(speech), chunk):
            conversation.feed(speech[i : i + chunk])
            await asyncio.sleep(0.02)
        conversation.feed(b"\x00\x00" * 32000)
        events = await _collect(conversation, ev.TurnComplete, seconds=120)
        await conversation.close()
        return events

    try:
        events = asyncio.run(scenario())
    finally:
        store.close()
    ends = sum(isinstance(e, ev.SpeechStopped) for e in events)
    assert ends <= talk_s // settings.max_utterance_s + 1, [type(e).__name__ for e in events]
    done = events[-1]
    assert isinstance(done, ev.TurnComplete) and done.answer, done
    assert wer(" ".join(sentences), done.user_text) <= 0.25, done.user_text


def test_a_live_answer_notes_on_its_turn_when_the_chosen_voice_failed(
    settings, local_providers, vad: SileroVAD, speak, gtts_server: FakeGoogle
) -> None:
    """The user chose gTTS and Google fails: the answer is spoken by the local voice, and the
    stored turn says so, as a REST answer's does (`speech: gtts:google-translate failed ...`)."""
    from core.tts.gtts import GTTS

    gtts_server.fault = "500"
    cloud = GTTS(base_url=gtts_server.url, timeout=1.0)
    tts = dataclasses.replace(local_providers.tts, cloud=cloud)
    store = HistoryStore.open(settings.sqlalchemy_url)
    agent = Agent(
        settings=settings, providers=dataclasses.replace(local_providers, tts=tts), store=store
    )
    account = store.create_user(username="gtts-fan", password_hash="x")
    user = store.update_user(user_id=account.id, tts_provider="gtts")
    quiet = b"\x00\x00" * 16000

    async def scenario() -> list:
        conversation = Conversation(agent=agent, vad=vad, user=user, sample_rate=16000)
        await conversation.start()
        conversation.feed(quiet + pcm16(speak(QUESTION)) + quiet)
        events = await _collect(conversation, ev.TurnComplete)
        await conversation.close()
        return events

    events = asyncio.run(scenario())
    done = events[-1]
    turn = store.get_turn(user_id=user.id, turn_id=done.turn_id)
    store.close()
    assert gtts_server.requests, "the chosen voice was tried"
    assert sum(len(e.pcm) for e in events if isinstance(e, ev.AudioOut)) > 22050  # spoken anyway
    assert turn.fallback and "speech: gtts:google-translate failed (HTTPError: 500" in turn.fallback
