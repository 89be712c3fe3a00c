"""Piper speaks English that the bundled Whisper hears back, one chunk per sentence."""

from __future__ import annotations

from core.audio import decode, pcm16_wav
from core.tts import AudioChunk
from core.tts.text import split_sentences
from tests.helpers import wer

SENTENCE = "The weather is lovely today and I would like to go for a walk in the park."
STORY = (
    "My brother bought a red bicycle. "
    "He rides it to school every morning. "
    "On weekends we go to the lake together."
)


def hear(local_stt, chunks: list[AudioChunk]) -> str:
    wav = pcm16_wav(b"".join(c.pcm for c in chunks), chunks[0].sample_rate)
    return local_stt.transcribe(decode(wav, max_seconds=60), language="en").text


def test_piper_speaks_english_that_whisper_hears(local_tts, local_stt) -> None:
    piper = local_tts.english

    chunks = list(piper.synthesize(SENTENCE, language="en"))

    assert {c.sample_rate for c in chunks} == {22_050}
    assert 2.0 < sum(c.duration for c in chunks) < 8.0
    assert wer(SENTENCE, hear(local_stt, chunks)) <= 0.2


def test_piper_yields_each_sentence_as_its_own_chunk(local_tts, local_stt) -> None:
    piper = local_tts.english
    sentences = split_sentences(STORY)
    assert len(sentences) == 3

    stream = piper.synthesize(STORY, language="en")
    first = next(stream)  # playable before the later sentences are synthesised
    rest = list(stream)

    assert len(rest) == 2
    # The first chunk is the first sentence alone, so it can play while the rest is made.
    assert wer(sentences[0], hear(local_stt, [first])) <= 0.2
    assert wer(sentences[2], hear(local_stt, [rest[1]])) <= 0.2


def test_piper_speaks_english_only(local_tts) -> None:
    piper = local_tts.english
    assert piper.supports("en")
    assert piper.supports("en-GB")
    assert not piper.supports("fr")
    assert piper.is_local
