"""Choosing a voice by language and user choice, and speaking a token stream as it arrives."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.audio import decode
from core.config import TTSProvider
from core.errors import InvalidInputError
from core.tts.gtts import GTTS
from core.tts.router import plan_voice
from core.tts.text import SentenceBuffer
from tests.gtts_server import closed_port_url


@pytest.fixture
def cloud() -> GTTS:
    return GTTS(base_url=closed_port_url())


@pytest.mark.parametrize(
    ("language", "requested", "primary", "backup", "note"),
    [
        ("en", "local", "local:piper-joe", None, None),
        ("fr", "local", "local:espeak-ng", None, None),
        ("pt-BR", "local", "local:espeak-ng", None, None),
        ("xx", "local", "local:piper-joe", None, "no voice for 'xx'"),
        ("en", "gtts", "gtts:google-translate", "local:piper-joe", None),
        ("es", "gtts", "gtts:google-translate", "local:espeak-ng", None),
        ("kk", "gtts", "local:espeak-ng", None, "has no 'kk' voice"),
    ],
)
def test_plan_voice(local_tts, cloud, language, requested, primary, backup, note) -> None:
    plan = plan_voice(
        language,
        TTSProvider(requested),
        english=local_tts.english,
        other=local_tts.other,
        cloud=cloud,
    )
    assert plan.primary.name == primary
    assert (plan.backup.name if plan.backup else None) == backup
    if note is None:
        assert plan.note is None
    else:
        assert note in plan.note


def test_gtts_asked_for_but_disabled_is_spoken_locally_with_a_note(local_tts) -> None:
    assert local_tts.cloud is None
    speech = local_tts.speak_to_wav("Hello there.", "en", TTSProvider.GTTS)
    assert speech.provider == "local:piper-joe"
    assert speech.fallback == "gTTS is disabled (GTTS_ENABLED=false); spoken by local:piper-joe"


def test_speak_to_wav_is_one_wav_of_every_piece(local_tts) -> None:
    wav, provider, fallback = local_tts.speak_to_wav("**Hola.** ¿Qué tal? Muy bien, gracias.", "es")
    audio = decode(wav, max_seconds=60)
    assert (provider, fallback) == ("local:espeak-ng", None)
    assert 1.0 < audio.duration < 6.0


def test_nothing_to_speak_is_invalid_input(local_tts) -> None:
    with pytest.raises(InvalidInputError):
        local_tts.speak_to_wav(" ... ", "en")


def test_a_token_stream_is_spoken_sentence_by_sentence_as_it_arrives(local_tts) -> None:
    tokens = ["The sun", " is out", " today.", " Let us go", " outside.", " Bring", " a hat."]
    fed: list[str] = []

    def pieces() -> Iterator[str]:
        buffer = SentenceBuffer()
        for token in tokens:
            fed.append(token)
            yield from buffer.feed(token)
        yield from buffer.flush()

    stream = local_tts.stream_pieces(pieces(), language="en")
    first = next(stream)
    # The first sentence is spoken once the next one has begun, long before the last token.
    assert fed == tokens[:4]
    assert first.provider == "local:piper-joe"
    assert first.audio.duration > 0.5
    assert len(list(stream)) == 2
    assert fed == tokens


def test_the_synthesizer_is_a_tts_for_every_language(local_tts) -> None:
    assert local_tts.supports("fr") and local_tts.supports("xx")
    assert local_tts.is_local
    chunks = list(local_tts.synthesize("Guten Tag. Wie geht's?", language="de"))
    assert len(chunks) == 2
    assert all(c.sample_rate == 22_050 and c.duration > 0.3 for c in chunks)
