"""The OpenAI-compatible provider through the real `openai` SDK against a real inference server
(llama.cpp's, serving the bundled Qwen), and the local model taking over when it fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import create_app
from core.config import Provider
from core.errors import ProviderError
from core.llm import ChatMessage
from core.llm.openai import OpenAILLM
from core.providers import Providers, build_openai_llm, choose
from tests.conftest import make_settings
from tests.core.test_groq import sse_events, stored_turn
from tests.gtts_server import closed_port_url
from tests.helpers import LLAMA_SERVER_MODEL as MODEL
from tests.helpers import login
from tests.openai_server import (
    InferenceServer,
    hanging_server,
    openai_server_fixture,  # noqa: F401
)

QUESTION = "What is the capital of France? Answer in one short sentence."
NAME = f"openai:{MODEL}"


def openai_api(tmp_path: Path, local_providers: Providers, base_url: str, timeout: float):
    """The REST API answering from the server at `base_url`, the local model as fallback."""
    settings = make_settings(
        tmp_path / "data",
        llm_provider="openai",
        openai_base_url=base_url,
        openai_model=MODEL,
        openai_timeout_s=timeout,
    )
    llm = build_openai_llm(settings)
    providers = Providers(stt=local_providers.stt, llm=llm, llm_fallback=local_providers.llm)
    return TestClient(create_app(settings, providers=providers)), llm


@pytest.fixture
def api(
    tmp_path: Path, local_providers: Providers, openai_server: InferenceServer
) -> Iterator[TestClient]:
    client, llm = openai_api(tmp_path, local_providers, openai_server.url, timeout=60)
    with client:
        yield client
    llm.client.close()  # type: ignore[attr-defined]


def test_the_sdk_streams_an_answer_from_the_server(openai_server: InferenceServer) -> None:
    llm = OpenAILLM(model=MODEL, base_url=openai_server.url, timeout=60, temperature=0)
    before = openai_server.chat_requests()
    try:
        tokens = list(llm.stream([ChatMessage("user", QUESTION)], max_tokens=24))
    finally:
        llm.client.close()
    assert len(tokens) > 3  # token by token, not one block
    assert "paris" in "".join(tokens).lower()
    assert openai_server.chat_requests() == before + 1


def test_answers_asked_at_once_are_each_whole(openai_server: InferenceServer) -> None:
    """Several app processes share one server: llama.cpp's would end the answer it streams
    when the next request arrives ([DONE] with no finish reason), unless started, as
    `core.llm.llama_server` starts it, with `--interrupt_requests False`. The answers queue
    and each comes whole; a cut one would raise (`UnfinishedAnswer`)."""
    llms = [OpenAILLM(model=MODEL, base_url=openai_server.url, timeout=60) for _ in range(3)]
    answers: list[str] = []
    errors: list[BaseException] = []

    def ask(llm: OpenAILLM) -> None:
        try:
            answers.append("".join(llm.stream([ChatMessage("user", QUESTION)], max_tokens=24)))
        except ProviderError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(llm,)) for llm in llms]
    try:
        for thread in threads:
            thread.start()
            time.sleep(0.2)  # each arrives while the one before streams
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for llm in llms:
            llm.client.close()
    assert errors == [] and len(answers) == 3
    assert all("paris" in answer.lower() for answer in answers), answers


def test_the_server_answers_a_turn(api: TestClient, openai_server: InferenceServer) -> None:
    headers = login(api)
    before = openai_server.chat_requests()

    res = api.post("/response", headers=headers, json={"text": QUESTION})

    assert res.status_code == 200, res.text
    body = res.json()
    assert "paris" in body["response"].lower()
    assert (body["provider"], body["fallback"]) == (NAME, None)
    assert openai_server.chat_requests() == before + 1
    turn = stored_turn(api, headers, body["session_id"])
    assert (turn["llm_provider"], turn["fallback"], turn["answer"]) == (
        NAME,
        None,
        body["response"],
    )


def test_the_server_streams_a_turn(api: TestClient) -> None:
    headers = login(api)

    res = api.post("/response", headers=headers, json={"text": QUESTION, "stream": True})

    assert res.status_code == 200, res.text
    events = sse_events(res.text)
    names = [name for name, _ in events]
    assert (names[0], names[-1]) == ("start", "done")
    assert "restart" not in names
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert len(deltas) > 3
    done = events[-1][1]
    assert (done["provider"], done["fallback"]) == (NAME, None)
    assert done["response"] == "".join(deltas).strip()
    assert "paris" in done["response"].lower()


@pytest.mark.parametrize(
    ("fault", "error"), [("down", "APIConnectionError"), ("hang", "APITimeoutError")]
)
def test_the_local_model_answers_when_the_server_fails(
    tmp_path: Path, local_providers: Providers, fault: str, error: str
) -> None:
    with hanging_server() as hanging:
        base_url = hanging if fault == "hang" else f"{closed_port_url()}/v1"
        client, llm = openai_api(tmp_path, local_providers, base_url, timeout=1)
        with client:
            headers = login(client)
            res = client.post("/response", headers=headers, json={"text": QUESTION})
            assert res.status_code == 200, res.text
            body = res.json()
            turn = stored_turn(client, headers, body["session_id"])
        llm.client.close()  # type: ignore[attr-defined]

    assert body["response"].strip()
    assert body["provider"] == local_providers.llm.name
    assert f"{NAME} failed" in body["fallback"] and error in body["fallback"]
    assert (turn["llm_provider"], turn["fallback"]) == (local_providers.llm.name, body["fallback"])


def test_a_hanging_server_is_given_up_after_the_timeout() -> None:
    with hanging_server() as url:
        llm = OpenAILLM(model=MODEL, base_url=url, timeout=1)
        start = time.perf_counter()
        with pytest.raises(ProviderError, match="APITimeoutError"):
            list(llm.stream([ChatMessage("user", QUESTION)], max_tokens=8))
        waited = time.perf_counter() - start
        llm.client.close()
    assert 0.9 < waited < 5  # one attempt of OPENAI_TIMEOUT_S, no retries


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stt_provider": "openai"}, "STT_PROVIDER=openai is not supported"),
        ({"llm_provider": "openai", "openai_base_url": "http://x/v1"}, "needs OPENAI_MODEL"),
        ({"llm_provider": "openai", "openai_model": "m"}, "needs OPENAI_BASE_URL"),
    ],
)
def test_an_incomplete_openai_setting_is_refused_by_name(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    settings = make_settings(tmp_path, **overrides)
    capability = "stt" if "stt_provider" in overrides else "llm"
    requested = settings.stt_provider if capability == "stt" else settings.llm_provider
    with pytest.raises(ValueError, match=message):
        choose(settings, requested, capability)


def test_openai_needs_no_server_url_when_a_key_is_set(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, llm_provider="openai", openai_model="gpt-4o-mini", openai_api_key="sk-test"
    )
    assert choose(settings, settings.llm_provider, "llm") is Provider.OPENAI
    llm = build_openai_llm(settings)
    assert llm.name == "openai:gpt-4o-mini"
    assert str(llm.client.base_url) == "https://api.openai.com/v1/"  # type: ignore[attr-defined]
