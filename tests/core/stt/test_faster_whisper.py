"""The bundled Whisper: a greedy decode caught in a loop is decoded again, not returned."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from core.audio import decode
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
