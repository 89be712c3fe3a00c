"""Format sniffing and decoding of every accepted container, and refusal of bad bytes."""

from __future__ import annotations

import time

import pytest

from core.audio import AudioFormat, decode, sniff_format
from core.errors import (
    AudioTooLongError,
    DecodeTimeoutError,
    UndecodableAudioError,
    UnsupportedAudioError,
)
from tests.helpers import FORMATS, encode_audio, silence_flac

SENTENCE = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def wav(speak) -> bytes:
    return speak(SENTENCE).read_bytes()


def test_wav_is_recognised_and_decoded_to_16k(wav: bytes) -> None:
    decoded = decode(wav, max_seconds=60)
    assert decoded.format is AudioFormat.WAV
    assert decoded.samples.dtype.name == "float32"
    assert 1.5 < decoded.duration < 6.0
    assert 0.05 < float(abs(decoded.samples).max()) <= 1.0


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_browser_format_decodes_to_the_same_length(wav: bytes, fmt: str) -> None:
    reference = decode(wav, max_seconds=60).duration
    data = encode_audio(wav, fmt)
    assert sniff_format(data).value == fmt
    decoded = decode(data, max_seconds=60)
    assert decoded.duration == pytest.approx(reference, abs=0.15)


def test_format_comes_from_bytes_not_name(wav: bytes) -> None:
    mp3 = encode_audio(wav, "mp3")
    assert sniff_format(mp3) is AudioFormat.MP3  # whatever the upload was called


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, this is a text file pretending to be audio\n" * 20, bytes(range(256)) * 8],
    ids=["empty", "text", "random"],
)
def test_non_audio_is_unsupported_and_names_the_formats(data: bytes) -> None:
    with pytest.raises(UnsupportedAudioError, match="wav, mp3, ogg, webm, m4a, flac"):
        decode(data, max_seconds=60)


def test_truncated_file_is_undecodable(wav: bytes) -> None:
    with pytest.raises(UndecodableAudioError):
        decode(wav[:40], max_seconds=60)


def test_header_only_mp3_is_undecodable(wav: bytes) -> None:
    with pytest.raises(UndecodableAudioError):
        decode(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 100, max_seconds=60)


def test_duration_limit_stops_decoding(wav: bytes) -> None:
    with pytest.raises(AudioTooLongError, match="1 seconds"):
        decode(wav, max_seconds=1)


def test_decoding_stops_at_the_wall_clock_deadline() -> None:
    flac = silence_flac(600)  # 100 KB that take a few tenths of a second to decode
    start = time.monotonic()
    with pytest.raises(DecodeTimeoutError, match="longer than 0.02 seconds to decode"):
        decode(flac, max_seconds=700, deadline_s=0.02)
    assert time.monotonic() - start < 1.0
    assert decode(flac, max_seconds=700).duration == pytest.approx(600)  # default: enough
