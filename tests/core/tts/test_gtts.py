"""gTTS through the real `gtts` package against a loopback Google Translate, faults and all."""

from __future__ import annotations

import dataclasses
import io
import time
import wave

import pytest

from core.audio import decode, pcm16_wav
from core.config import TTSProvider
from core.errors import ProviderError
from core.tts.gtts import GTTS
from core.tts.router import to_wav
from tests.gtts_server import FakeGoogle, closed_port_url, gtts_server_fixture  # noqa: F401
from tests.helpers import wer

SENTENCE = "The museum opens at nine in the morning and closes at six in the evening."
# One sentence over gTTS's 100 characters: it sends it as two requests, two MP3s.
LONG = (
    "My grandmother grew tomatoes and beans and potatoes and carrots in the little garden "
    "behind her house near the river."
)
STORY = "I like green apples. My sister likes red ones. We both like pears."


def hear(local_stt, chunks) -> str:
    wav = pcm16_wav(b"".join(c.pcm for c in chunks), chunks[0].sample_rate)
    return local_stt.transcribe(decode(wav, max_seconds=60), language="en").text


@pytest.fixture
def gtts(gtts_server: FakeGoogle) -> GTTS:
    return GTTS(base_url=gtts_server.url, timeout=2.0)


@pytest.fixture
def voices(local_tts, gtts: GTTS):
    """The server's voices with gTTS enabled and pointed at the fake Google."""
    return dataclasses.replace(local_tts, cloud=gtts)


def test_gtts_speech_is_decoded_to_pcm_that_whisper_hears(gtts_server, gtts, local_stt) -> None:
    chunks = list(gtts.synthesize(SENTENCE, language="en"))

    assert len(chunks) == 1
    assert chunks[0].sample_rate == 22_050  # resampled from Google's 24 kHz MP3
    assert wer(SENTENCE, hear(local_stt, chunks)) <= 0.2
    (seen,) = gtts_server.requests
    assert (seen.text, seen.lang, seen.slow, seen.form_encoded) == (SENTENCE, "en", None, True)


def test_a_long_sentence_goes_as_several_requests_and_comes_back_whole(
    gtts_server, gtts, local_stt
) -> None:
    chunks = list(gtts.synthesize(LONG, language="en"))

    assert len(chunks) == 1
    assert len(gtts_server.requests) == 2
    assert all(len(seen.text) <= 100 for seen in gtts_server.requests)
    assert wer(LONG, hear(local_stt, chunks)) <= 0.2


def test_languages_are_sent_by_googles_names(gtts_server, gtts) -> None:
    list(gtts.synthesize("Bonjour tout le monde.", language="fr"))
    list(gtts.synthesize("שלום עולם.", language="he"))

    assert [seen.lang for seen in gtts_server.requests] == ["fr", "iw"]
    assert gtts.supports("pt-BR")
    assert not gtts.supports("xx")


@pytest.mark.parametrize(("fault", "reason"), [("500", "HTTPError"), ("no-audio", "no audio")])
def test_a_failing_google_is_a_provider_error(gtts_server, gtts, fault, reason) -> None:
    gtts_server.fault = fault
    with pytest.raises(ProviderError, match=reason):
        list(gtts.synthesize(SENTENCE, language="en"))


def test_the_voice_router_speaks_with_gtts_when_asked(gtts_server, voices, local_stt) -> None:
    speech = voices.speak_to_wav(SENTENCE, "en", TTSProvider.GTTS)

    assert speech.provider == "gtts:google-translate"
    assert speech.fallback is None
    heard = local_stt.transcribe(decode(speech.wav, max_seconds=60), language="en").text
    assert wer(SENTENCE, heard) <= 0.2


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("500", "500 Server Error"), ("no-audio", "no audio"), ("hang", "ReadTimeout")],
)
def test_local_voice_speaks_when_google_fails(gtts_server, voices, local_stt, fault, reason):
    gtts_server.fault = fault
    voices = dataclasses.replace(voices, cloud=GTTS(base_url=gtts_server.url, timeout=0.5))

    start = time.perf_counter()
    speech = voices.speak_to_wav(SENTENCE, "en", TTSProvider.GTTS)
    elapsed = time.perf_counter() - start

    assert speech.provider == "local:piper-joe"
    assert speech.fallback.startswith("gtts:google-translate failed (")
    assert reason in speech.fallback
    assert speech.fallback.endswith("served by local:piper-joe")
    heard = local_stt.transcribe(decode(speech.wav, max_seconds=60), language="en").text
    assert wer(SENTENCE, heard) <= 0.2
    if fault == "hang":
        (waited,) = gtts_server.waits
        assert waited < 2.0
        assert elapsed < 5.0


def test_local_voice_speaks_when_google_is_unreachable(local_tts) -> None:
    voices = dataclasses.replace(local_tts, cloud=GTTS(base_url=closed_port_url(), timeout=1.0))

    speech = voices.speak_to_wav("Bonjour à tous.", "fr", TTSProvider.GTTS)

    assert speech.provider == "local:espeak-ng"
    assert "gtts:google-translate failed (ConnectionError" in speech.fallback
    assert decode(speech.wav, max_seconds=60).duration > 0.3


def test_after_a_failure_mid_answer_the_local_voice_speaks_the_rest(gtts_server, voices):
    gtts_server.fail_after = 1
    gtts_server.fault = "500"

    chunks = list(voices.stream(STORY, language="en", provider=TTSProvider.GTTS))

    assert [c.provider for c in chunks] == [
        "gtts:google-translate",
        "local:piper-joe",
        "local:piper-joe",
    ]
    assert chunks[0].fallback is None
    assert chunks[1].fallback == chunks[2].fallback
    assert "gtts:google-translate failed" in chunks[1].fallback
    # Google is not asked again for the third sentence once it has failed.
    assert [seen.text for seen in gtts_server.requests] == [
        "I like green apples.",
        "My sister likes red ones.",
    ]


def test_speech_from_voices_at_different_rates_is_one_wav_at_the_first_rate(
    gtts_server, voices, local_stt
) -> None:
    gtts_server.fail_after = 1
    gtts_server.fault = "500"
    voices = dataclasses.replace(
        voices, cloud=GTTS(base_url=gtts_server.url, timeout=2.0, sample_rate=24_000)
    )
    chunks = list(voices.stream(STORY, language="en", provider=TTSProvider.GTTS))
    assert [c.audio.sample_rate for c in chunks] == [24_000, 22_050, 22_050]

    speech = to_wav(chunks)

    assert speech.provider == "local:piper-joe"
    with wave.open(io.BytesIO(speech.wav)) as wav:
        assert wav.getframerate() == 24_000
        seconds = wav.getnframes() / wav.getframerate()
    # Every piece keeps its length: the 22,050 Hz ones were resampled, not sped up.
    assert seconds == pytest.approx(sum(c.audio.duration for c in chunks), abs=0.001)
    heard = local_stt.transcribe(decode(speech.wav, max_seconds=60), language="en").text
    assert wer(STORY, heard) <= 0.2
