"""eSpeak NG speaks the other languages: audible, at 22,050 Hz, at a speaking pace."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.errors import ProviderError
from core.tts.text import split_sentences

TEXTS = {
    "fr": "Bonjour, je m'appelle Marie. J'habite à Paris depuis dix ans.",
    "es": "¿Dónde está la biblioteca? Está al lado del museo, ¡claro!",
    "de": "Guten Morgen. Wie geht es Ihnen heute?",
}


def samples(chunks) -> np.ndarray:
    return np.frombuffer(b"".join(c.pcm for c in chunks), dtype="<i2").astype(np.float64)


@pytest.mark.parametrize("language", TEXTS)
def test_espeak_speaks_each_sentence_audibly(local_tts, language: str) -> None:
    espeak = local_tts.other
    text = TEXTS[language]

    chunks = list(espeak.synthesize(text, language=language))

    assert len(chunks) == len(split_sentences(text)) == 2
    assert {c.sample_rate for c in chunks} == {22_050}
    audio = samples(chunks)
    assert np.sqrt(np.mean(audio**2)) > 1000  # speech, not silence (full scale is 32767)
    seconds = len(audio) / 22_050
    assert 0.03 * len(text) < seconds < 0.2 * len(text)
    for chunk in chunks:
        assert np.sqrt(np.mean(samples([chunk]) ** 2)) > 1000


def test_espeak_knows_which_languages_it_speaks(local_tts) -> None:
    espeak = local_tts.other
    for code in ("fr", "es", "de", "it", "pt", "nl", "en", "pt-BR", "ru", "zh", "no"):
        assert espeak.supports(code), code
    assert espeak.voice_for("zh") == "cmn"
    assert not espeak.supports("xx")
    with pytest.raises(ProviderError, match="no voice for language 'xx'"):
        list(espeak.synthesize("hello", language="xx"))


def test_concurrent_speakers_do_not_mix_their_audio(local_tts) -> None:
    """eSpeak keeps its voice and output in global C state; the lock keeps callers apart.

    Its output varies slightly from run to run, so each result is compared by length: audio
    leaking between callers would leave one short and another long.
    """
    espeak = local_tts.other

    def speak(lang: str) -> int:
        return sum(len(c.pcm) for c in espeak.synthesize(TEXTS[lang], language=lang))

    expected = {lang: speak(lang) for lang in TEXTS}
    results: dict[str, list[int]] = {lang: [] for lang in TEXTS}

    def repeat(lang: str) -> None:
        for _ in range(3):
            results[lang].append(speak(lang))

    threads = [threading.Thread(target=repeat, args=(lang,)) for lang in TEXTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for lang in TEXTS:
        assert len(results[lang]) == 3
        for size in results[lang]:
            assert abs(size - expected[lang]) < 0.02 * expected[lang], lang
