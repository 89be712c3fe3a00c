"""A real OpenAI-compatible inference server on loopback: llama.cpp's (`llama_cpp.server`)
serving the bundled Qwen GGUF, started for the tests that need it and stopped after."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core.assets import QWEN_05B, ensure_model
from tests.conftest import make_settings
from tests.helpers import REPO, free_port, llama_server_command

START_TIMEOUT_S = 120


@dataclass(frozen=True)
class InferenceServer:
    url: str  # the OpenAI base URL, ending in /v1
    log: Path  # the server's output, access log included

    def chat_requests(self) -> int:
        """How many chat completions the server has been asked for so far."""
        return self.log.read_text(errors="replace").count("POST /v1/chat/completions")


@pytest.fixture(name="openai_server", scope="module")
def openai_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceServer]:
    """llama.cpp's OpenAI-compatible server on a free loopback port."""
    folder = tmp_path_factory.mktemp("openai-server")
    gguf = ensure_model(QWEN_05B, make_settings(folder).model_cache_dir) / QWEN_05B.target
    port = free_port()
    log = folder / "server.log"
    command = llama_server_command(gguf, port, n_ctx=2048)
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    server = InferenceServer(f"http://127.0.0.1:{port}/v1", log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"the server exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "the server did not start in time"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{server.url}/models", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def hanging_server() -> Iterator[str]:
    """A base URL whose server takes connections and never answers them."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)  # the kernel completes handshakes; nobody ever reads or replies
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
