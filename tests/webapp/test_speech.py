"""Speech over REST: POST /speak, audio on /response, GET /turns/{id}/audio, the voice setting."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.audio import decode
from core.tts.gtts import GTTS
from tests.gtts_server import FakeGoogle, gtts_server_fixture  # noqa: F401
from tests.helpers import login, register, wer
from tests.webapp.test_response import sse_events

SENTENCE = "Please remember to water the plants before you leave the house."


@pytest.fixture
def api(app_factory: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(app_factory()) as client:
        yield client


@pytest.fixture
def headers(api: TestClient) -> dict:
    return login(api)


@pytest.fixture
def google_api(
    app_factory: Callable[..., FastAPI], local_providers, gtts_server: FakeGoogle
) -> Iterator[TestClient]:
    """The API with gTTS enabled and pointed at the loopback Google."""
    cloud = GTTS(base_url=gtts_server.url, timeout=1.0)
    tts = dataclasses.replace(local_providers.tts, cloud=cloud)
    providers = dataclasses.replace(local_providers, tts=tts)
    with TestClient(app_factory(providers)) as client:
        yield client


def choose_voice(client: TestClient, headers: dict, voice: str) -> None:
    current = client.get("/settings", headers=headers).json()
    res = client.put("/settings", headers=headers, json={**current, "tts_provider": voice})
    assert res.status_code == 200, res.text
    assert res.json()["tts_provider"] == voice


# POST /speak ------------------------------------------------------------------------------


def test_speak_returns_a_wav_of_the_text(api, headers, local_stt) -> None:
    res = api.post("/speak", headers=headers, json={"text": SENTENCE})

    assert res.status_code == 200, res.text
    assert res.headers["content-type"] == "audio/wav"
    assert res.headers["x-tts-provider"] == "local:piper-joe"
    assert res.headers["x-tts-language"] == "en"
    assert "x-tts-fallback" not in res.headers
    audio = decode(res.content, max_seconds=60)
    assert wer(SENTENCE, local_stt.transcribe(audio, language="en").text) <= 0.2


@pytest.mark.parametrize(
    ("body", "language"),
    [
        ({"text": "Bonjour, comment allez-vous aujourd'hui ?"}, "fr"),
        ({"text": "¿Dónde está la estación de tren?", "language": "auto"}, "es"),
        ({"text": "Hello", "language": "de"}, "de"),
    ],
)
def test_speak_uses_the_language_given_or_detected(api, headers, body, language) -> None:
    res = api.post("/speak", headers=headers, json=body)

    assert res.status_code == 200, res.text
    assert res.headers["x-tts-language"] == language
    assert res.headers["x-tts-provider"] == "local:espeak-ng"
    assert decode(res.content, max_seconds=60).duration > 0.3


def test_speak_needs_a_token(api) -> None:
    res = api.post("/speak", json={"text": SENTENCE})
    assert res.status_code == 401
    assert res.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "body",
    [{"text": ""}, {"text": "   "}, {"text": "..."}, {}, {"text": "Hi", "language": "xx"}],
)
def test_speak_refuses_nothing_to_say_or_an_unknown_language(api, headers, body) -> None:
    res = api.post("/speak", headers=headers, json=body)
    assert res.status_code == 422, res.text


def test_speak_with_gtts_chosen(google_api, gtts_server, local_stt) -> None:
    headers = login(google_api)
    choose_voice(google_api, headers, "gtts")

    res = google_api.post("/speak", headers=headers, json={"text": SENTENCE})

    assert res.status_code == 200, res.text
    assert res.headers["x-tts-provider"] == "gtts:google-translate"
    assert "x-tts-fallback" not in res.headers
    assert [seen.text for seen in gtts_server.requests] == [SENTENCE]
    audio = decode(res.content, max_seconds=60)
    assert wer(SENTENCE, local_stt.transcribe(audio, language="en").text) <= 0.2


def test_speak_falls_back_to_the_local_voice_when_google_fails(google_api, gtts_server) -> None:
    gtts_server.fault = "500"
    headers = login(google_api)
    choose_voice(google_api, headers, "gtts")

    res = google_api.post("/speak", headers=headers, json={"text": SENTENCE})

    assert res.status_code == 200, res.text
    assert res.headers["x-tts-provider"] == "local:piper-joe"
    assert res.headers["x-tts-fallback"].startswith("gtts:google-translate failed (HTTPError: 500")
    assert decode(res.content, max_seconds=60).duration > 2.0


# The voice setting --------------------------------------------------------------------------


def test_voice_setting_round_trip(api, headers) -> None:
    assert api.get("/settings", headers=headers).json()["tts_provider"] == "local"
    choose_voice(api, headers, "gtts")
    # Clients that do not know the field leave it as it is.
    res = api.put("/settings", headers=headers, json={"personality": "formal"})
    assert res.status_code == 200
    assert res.json()["tts_provider"] == "gtts"
    bad = api.put("/settings", headers=headers, json={"personality": "formal", "tts_provider": "x"})
    assert bad.status_code == 422
    assert api.get("/settings", headers=headers).json()["tts_provider"] == "gtts"


def test_server_default_voice_applies_until_a_user_chooses(app_factory) -> None:
    with TestClient(app_factory(tts_provider="gtts")) as client:
        headers = login(client)
        assert client.get("/settings", headers=headers).json()["tts_provider"] == "gtts"
        # gTTS is off in the test voices: the local voice speaks and says why.
        res = client.post("/speak", headers=headers, json={"text": "Hello there."})
        assert res.status_code == 200
        assert res.headers["x-tts-fallback"].startswith("gTTS is disabled")
        choose_voice(client, headers, "local")
        res = client.post("/speak", headers=headers, json={"text": "Hello there."})
        assert "x-tts-fallback" not in res.headers


# Audio of answers ---------------------------------------------------------------------------


def ask(client: TestClient, headers: dict, **extra: object) -> dict:
    res = client.post(
        "/response", headers=headers, json={"text": "What is the capital of Italy?", **extra}
    )
    assert res.status_code == 200, res.text
    return res.json()


def test_response_with_an_audio_url(api, headers) -> None:
    body = ask(api, headers, audio="url")

    assert body["audio_url"] == f"/turns/{body['turn_id']}/audio"
    assert body["audio_base64"] is None
    res = api.get(body["audio_url"], headers=headers)
    assert res.status_code == 200, res.text
    assert res.headers["content-type"] == "audio/wav"
    assert res.headers["x-tts-provider"] == "local:piper-joe"
    seconds = decode(res.content, max_seconds=120).duration
    assert 0.03 * len(body["response"]) < seconds < 0.2 * len(body["response"])
    # Cached: the same file again, and it is on disk under DATA_DIR/audio.
    assert api.get(body["audio_url"], headers=headers).content == res.content
    state = api.app.state.agent_state
    assert (state.settings.data_dir / "audio" / f"{body['turn_id']}.wav").is_file()


def test_response_with_inline_audio(api, headers) -> None:
    body = ask(api, headers, audio="base64")

    wav = base64.b64decode(body["audio_base64"])
    assert decode(wav, max_seconds=120).duration > 0.5
    assert body["audio_url"] is None
    assert body["fallback"] is None
    # The same recording is what the turn's audio route serves.
    assert api.get(f"/turns/{body['turn_id']}/audio", headers=headers).content == wav


def test_response_without_audio_by_default(api, headers) -> None:
    body = ask(api, headers)
    assert body["audio_url"] is None and body["audio_base64"] is None


def test_streamed_response_ends_with_the_audio_url(api, headers) -> None:
    res = api.post(
        "/response",
        headers=headers,
        json={"text": "Say hello.", "stream": True, "audio": "url"},
    )
    kind, done = sse_events(res.text)[-1]
    assert kind == "done"
    assert done["audio_url"] == f"/turns/{done['turn_id']}/audio"
    assert api.get(done["audio_url"], headers=headers).status_code == 200


def test_inline_audio_falls_back_and_says_so(google_api, gtts_server) -> None:
    gtts_server.fault = "500"
    headers = login(google_api)
    choose_voice(google_api, headers, "gtts")

    body = ask(google_api, headers, audio="base64")

    assert decode(base64.b64decode(body["audio_base64"]), max_seconds=120).duration > 0.5
    assert "gtts:google-translate failed" in body["fallback"]
    turn = google_api.get(f"/sessions/{body['session_id']}", headers=headers).json()["turns"][0]
    assert turn["fallback"].startswith("speech: gtts:google-translate failed")


def test_turn_audio_is_only_for_its_owner(api, headers) -> None:
    body = ask(api, headers, audio="url")
    other = register(api, "mallory")

    assert api.get(body["audio_url"], headers=other).status_code == 404
    assert api.get(body["audio_url"]).status_code == 401
    assert api.get(f"/turns/{body['turn_id'] + 1}/audio", headers=headers).status_code == 404
    state = api.app.state.agent_state
    assert not (state.settings.data_dir / "audio").exists()


@pytest.mark.parametrize("turn_id", ["0", "-1", str(2**63), "1" * 30, "abc"])
def test_turn_ids_out_of_range_are_422(api, headers, turn_id: str) -> None:
    assert api.get(f"/turns/{turn_id}/audio", headers=headers).status_code == 422
