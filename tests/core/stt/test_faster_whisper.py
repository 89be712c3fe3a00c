"""The bundled Whisper: a greedy decode caught in a loop is decoded again, not returned; a
guess waits between encoding and decoding while a turn's work runs."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from core.audio import decode
from core.concurrency import FairLock, Ticket, working_on
from core.stt.faster_whisper import LOOPING_COMPRESSION, FasterWhisperSTT
from tests.helpers import wer

QUESTION = "What is the capital of Italy?"
# Heard once for QUESTION in a full run (tests/webapp/test_response.py), Piper's voice being a
# little different in each process.
LOOPED = " What is the cathode" + " of the devil" * 6 + " of"


class LoopsOnce:
    """Whisper's decoder (CTranslate2), except that its first decode comes back as LOOPED."""

    def __init__(self, real: Any, looped: list[int]) -> None:
        self.real = real
        self.looped = looped
        self.decodes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        self.decodes += 1
        results = self.real.generate(*args, **kwargs)
        if self.decodes > 1:
            return results
        first = results[0]
        return [SimpleNamespace(sequences_ids=[self.looped], scores=first.scores, no_speech_prob=0)]


def test_a_looping_decode_is_decoded_again(local_stt: FasterWhisperSTT, speak, monkeypatch) -> None:
    from faster_whisper.transcribe import get_compression_ratio

    assert get_compression_ratio(LOOPED.strip()) > LOOPING_COMPRESSION
    looped = local_stt.model.hf_tokenizer.encode(LOOPED, add_special_tokens=False).ids
    decoder = LoopsOnce(local_stt.model.model, looped)
    monkeypatch.setattr(local_stt.model, "model", decoder)
    audio = decode(speak(QUESTION).read_bytes(), max_seconds=60)

    heard = local_stt.transcribe(audio, language="en").text

    assert decoder.decodes >= 2  # the loop, then the decode again
    assert "devil" not in heard and wer(QUESTION, heard) <= 0.2, heard


class AnswerStartsWhileEncoding:
    """Whisper's decoder, noting when it runs; another user's answer takes `llm` while the
    encoder runs (the encoder's call returns after that)."""

    def __init__(self, real: Any, llm: FairLock) -> None:
        self.real = real
        self.llm = llm
        self.decoded_at: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        encoded = self.real.encode(*args, **kwargs)
        self.llm.acquire(Ticket(owner="other"))
        return encoded

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        self.decoded_at.append(time.monotonic())
        return self.real.generate(*args, **kwargs)


def test_a_guess_waits_to_decode_while_another_users_answer_runs(
    local_stt: FasterWhisperSTT, speak, monkeypatch
) -> None:
    """The guess holds no one up: it waits with its audio encoded, and decodes it whole once
    the answer is done."""
    llm = FairLock()
    model = AnswerStartsWhileEncoding(local_stt.model.model, llm)
    monkeypatch.setattr(local_stt.model, "model", model)
    monkeypatch.setattr(local_stt, "lock", FairLock())
    audio = decode(speak(QUESTION).read_bytes(), max_seconds=60)
    heard: list[str] = []

    def guess() -> None:
        with working_on(Ticket(owner="talker", speculative=True)):
            heard.append(local_stt.transcribe(audio, language="en").text)

    thread = threading.Thread(target=guess)
    thread.start()
    deadline = time.monotonic() + 30
    while local_stt.lock.waiting == 0:  # the guess steps aside after encoding
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.005)
    time.sleep(0.2)
    assert model.decoded_at == [] and thread.is_alive()
    done = time.monotonic()
    llm.release()
    thread.join(30)
    assert len(model.decoded_at) == 1 and model.decoded_at[0] >= done
    assert wer(QUESTION, heard[0]) <= 0.2, heard
