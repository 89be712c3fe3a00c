"""POST /upload: real speech through the bundled Whisper, every format, and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.audio import DecodedAudio, pcm16_wav
from core.errors import TranscriptionError
from core.providers import Providers
from tests.helpers import FORMATS, encode_audio, login, wer

SENTENCE = "Please remind me to water the tomato plants tomorrow morning."


@pytest.fixture
def headers(client: TestClient) -> dict:
    return login(client)


def test_spoken_sentence_is_transcribed_and_stored(
    client: TestClient, headers: dict, speak
) -> None:
    wav = speak(SENTENCE)
    res = client.post(
        "/upload", headers=headers, files={"file": ("note.wav", wav.read_bytes(), "audio/wav")}
    )
    assert res.status_code == 200, res.text
    body = res.json()
    assert wer(SENTENCE, body["transcription"]) <= 0.15, body["transcription"]
    assert body["language"] == "en"
    assert 2.0 < body["duration"] < 8.0
    assert body["provider"] == "local:whisper-base"
    session = client.get(f"/sessions/{body['session_id']}", headers=headers).json()
    assert [t["user_text"] for t in session["turns"]] == [body["transcription"]]
    assert session["turns"][0]["status"] == "pending"
    assert session["turns"][0]["timings"]["stt_ms"] > 0


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_browser_formats_are_transcribed(
    client: TestClient, headers: dict, speak, fmt: str
) -> None:
    data = encode_audio(speak(SENTENCE).read_bytes(), fmt)
    # A misleading name on purpose: the format is read from the bytes.
    res = client.post("/upload", headers=headers, files={"file": ("recording.bin", data)})
    assert res.status_code == 200, res.text
    assert wer(SENTENCE, res.json()["transcription"]) <= 0.2


def test_upload_continues_a_given_session(client: TestClient, headers: dict, speak) -> None:
    first = client.post(
        "/upload", headers=headers, files={"file": ("a.wav", speak(SENTENCE).read_bytes())}
    ).json()
    second = client.post(
        "/upload",
        headers=headers,
        data={"session_id": first["session_id"]},
        files={"file": ("b.wav", speak("Thank you very much.").read_bytes())},
    ).json()
    assert second["session_id"] == first["session_id"]
    turns = client.get(f"/sessions/{first['session_id']}", headers=headers).json()["turns"]
    assert len(turns) == 2


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.wav", b""),
        ("notes.wav", b"This is a text file renamed to .wav, not audio at all.\n" * 10),
        ("random.mp3", bytes(range(256)) * 40),
    ],
)
def test_non_audio_gets_400_naming_the_formats(
    client: TestClient, headers: dict, name: str, data: bytes
) -> None:
    res = client.post("/upload", headers=headers, files={"file": (name, data)})
    assert res.status_code == 400
    assert "wav, mp3, ogg, webm, m4a, flac" in res.json()["detail"]


def test_truncated_audio_gets_400(client: TestClient, headers: dict, speak) -> None:
    mp3 = encode_audio(speak(SENTENCE).read_bytes(), "mp3")
    res = client.post("/upload", headers=headers, files={"file": ("cut.mp3", mp3[:300])})
    assert res.status_code == 400, res.text


def test_too_large_gets_413_and_server_keeps_serving(app_factory, speak) -> None:
    with TestClient(app_factory(max_upload_mb=1)) as client:
        headers = login(client)
        huge = b"RIFF" + b"\x00" * (3 * 1024 * 1024)
        res = client.post("/upload", headers=headers, files={"file": ("big.wav", huge)})
        assert res.status_code == 413
        assert "1 MB" in res.json()["detail"]

        # Also refused when no Content-Length announces the size (chunked body).
        def chunks():
            yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
            for _ in range(40):
                yield b"\x00" * 65536

        res = client.post(
            "/upload",
            headers={**headers, "Content-Type": "multipart/form-data; boundary=x"},
            content=chunks(),
        )
        assert res.status_code == 413
        ok = client.post(
            "/upload", headers=headers, files={"file": ("ok.wav", speak(SENTENCE).read_bytes())}
        )
        assert ok.status_code == 200


def test_too_long_audio_gets_413(app_factory, speak) -> None:
    with TestClient(app_factory(max_audio_seconds=1)) as client:
        res = client.post(
            "/upload",
            headers=login(client),
            files={"file": ("long.wav", speak(SENTENCE).read_bytes())},
        )
        assert res.status_code == 413
        assert "1 seconds" in res.json()["detail"]


class BrokenSTT:
    """A speech engine whose failure cannot be caused with the real model on valid audio."""

    name = "local:broken"
    is_local = True
    lock = None

    def transcribe(self, audio: DecodedAudio, *, language: str | None = None):
        raise TranscriptionError("the speech model crashed")


def test_failed_transcription_is_500_with_details(
    app_factory, local_providers: Providers, speak
) -> None:
    providers = Providers(stt=BrokenSTT(), llm=local_providers.llm)
    with TestClient(app_factory(providers=providers)) as client:
        res = client.post(
            "/upload",
            headers=login(client),
            files={"file": ("a.wav", speak(SENTENCE).read_bytes())},
        )
    assert res.status_code == 500
    assert res.json()["detail"] == "Transcription failed: the speech model crashed"
    assert "Traceback" not in res.text


def test_silence_is_transcribed_to_nothing_and_not_stored(
    client: TestClient, headers: dict, tmp_path: Path
) -> None:
    silence = pcm16_wav(b"\x00\x00" * 16000 * 2, 16000)
    res = client.post("/upload", headers=headers, files={"file": ("s.wav", silence)})
    assert res.status_code == 200
    body = res.json()
    # No speech, no turn, and no new session either (an empty one was left behind before).
    assert (body["transcription"], body["turn_id"], body["session_id"]) == ("", None, None)
    assert client.get("/sessions", headers=headers).json() == []
    assert client.post("/response", headers=headers, json={"text": ""}).status_code == 400
    # Silence in an existing session names that session and adds nothing to it.
    session = client.post("/response", headers=headers, json={"text": "Hello."}).json()
    res = client.post(
        "/upload",
        headers=headers,
        files={"file": ("s.wav", silence)},
        data={"session_id": session["session_id"]},
    )
    assert res.json()["session_id"] == session["session_id"] and res.json()["turn_id"] is None
    listed = client.get("/sessions", headers=headers).json()
    assert [(s["id"], s["turn_count"]) for s in listed] == [(session["session_id"], 1)]
    r = client.post(
        "/response", headers=headers, json={"text": "", "session_id": session["session_id"]}
    )
    assert r.status_code == 400
