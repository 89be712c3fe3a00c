"""telephony/mulaw.py against the G.711 reference, and the pure TwiML and URL helpers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from core.config import Settings
from telephony import twiml
from telephony.mulaw import FRAME_BYTES, MulawDecoder, MulawEncoder
from telephony.signature import NotConfigured, TwilioSignatures, public_url, stream_url
from tests.telephony.simulator import ulaw_decode, ulaw_encode


def test_decoding_matches_g711_for_every_code() -> None:
    codes = bytes(range(256))
    assert MulawDecoder()(codes) == ulaw_decode(codes)


def test_encoding_stays_within_one_g711_step() -> None:
    ramp = np.arange(-32768, 32768, 7, dtype="<i2")
    encoder = MulawEncoder(8000)
    frames = encoder.feed(ramp.tobytes()) + encoder.flush()
    assert {len(f) for f in frames} == {FRAME_BYTES}
    levels = np.unique(np.frombuffer(ulaw_decode(bytes(range(256))), "<i2"))

    def level(mulaw: bytes) -> np.ndarray:
        """Each code's rank among the 255 distinct mu-law values, lowest first."""
        return np.searchsorted(levels, np.frombuffer(ulaw_decode(mulaw), "<i2"))

    ours = level(b"".join(frames))[: len(ramp)]
    reference = level(ulaw_encode(ramp.tobytes()))
    # FFmpeg rounds where G.711 truncates: at most the neighbouring level, never further.
    assert np.abs(ours - reference).max() <= 1
    assert np.mean(ours == reference) > 0.9


def test_22050_hz_speech_becomes_whole_8khz_frames_with_its_pitch() -> None:
    rate = 22050
    tone = (np.sin(2 * np.pi * 440 * np.arange(rate) / rate) * 8000).astype("<i2")
    encoder = MulawEncoder(rate)
    frames: list[bytes] = []
    for i in range(0, len(tone), 2205):  # the engine's 100 ms pieces
        frames += encoder.feed(tone[i : i + 2205].tobytes())
    frames += encoder.flush()
    out = np.frombuffer(ulaw_decode(b"".join(frames)), "<i2").astype(np.float32)
    assert {len(f) for f in frames} == {FRAME_BYTES}
    assert abs(len(out) - 8000) <= FRAME_BYTES
    peak_hz = np.argmax(np.abs(np.fft.rfft(out))) * 8000 / len(out)
    assert abs(peak_hz - 440) < 5


def test_stream_url_follows_the_public_url() -> None:
    assert stream_url("https://agent.example.com/") == "wss://agent.example.com/twilio/media"
    assert stream_url("http://localhost:8000") == "ws://localhost:8000/twilio/media"
    assert public_url("https://a.example/", "/twilio/voice", "x=1") == (
        "https://a.example/twilio/voice?x=1"
    )


def test_signature_settings_are_required_and_named(settings: Settings) -> None:
    with pytest.raises(NotConfigured, match="TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL"):
        TwilioSignatures.from_settings(settings)
    bad = settings.model_copy(update={"public_base_url": "agent.example.com"})
    with pytest.raises(NotConfigured, match="http"):
        TwilioSignatures.from_settings(bad)


def test_llm_text_is_escaped_in_twiml() -> None:
    text = "Ok </Say><Dial>+15550001234</Dial> & more"
    document = twiml.gather_turn(text, "https://a.example/twilio/gather", "fr")
    root = ET.fromstring(document)
    assert root.find(".//Dial") is None
    say = root.find("Gather/Say")
    assert say is not None and say.text == text and say.attrib["language"] == "fr-FR"
