"""Test helpers: speech made with Piper, word error rate, and a signed-in API client."""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fastapi.testclient import TestClient

ADMIN = ("admin", "adminpass123")
REPO = Path(__file__).resolve().parent.parent

# Settings in the caller's environment that would change what an app started here runs.
_FOREIGN_SETTINGS = (
    "GROQ_API_KEY",
    "GROQ_BASE_URL",
    "DATABASE_URL",
    "JWT_SECRET",
    "LOCAL_LLM_PATH",
    "PYTHONPATH",
)
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_env(
    *, port: int, data_dir: Path, admin: tuple[str, str] = ADMIN, **settings: str
) -> dict[str, str]:
    """The environment of a `python app.py` that a test or a bench starts: the caller's, less
    the settings that would change what it runs, on loopback `port` with `data_dir`, the
    `admin` account, and `settings` (by their environment names) on top."""
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_SETTINGS}
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        DATA_DIR=str(data_dir),
        ADMIN_USERNAME=admin[0],
        ADMIN_PASSWORD=admin[1],
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


def die_with_parent(sig: int) -> Callable[[], None]:
    """A `preexec_fn` for a server child: it gets `sig` when the process that started it dies,
    even when that one is killed, so no server outlives its test or bench."""

    def arm() -> None:  # runs in the child before exec: only calls prctl(2)
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return arm


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance over the reference length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[len(hyp)] / max(1, len(ref))


def login(client: TestClient, username: str = ADMIN[0], password: str = ADMIN[1]) -> dict:
    """Sign in and return the Authorization header for the token."""
    res = client.post("/login", json={"username": username, "password": password})
    assert res.status_code == 200, res.text
    return {"Authorization": f"Bearer {res.json()['token']}"}


def register(client: TestClient, username: str, password: str = "password-123") -> dict:
    res = client.post("/register", json={"username": username, "password": password})
    assert res.status_code == 201, res.text
    return login(client, username, password)


# container, codec, sample rate: the formats browsers and phones record, made with PyAV.
FORMATS = {
    "mp3": ("mp3", "libmp3lame", 22050),
    "ogg": ("ogg", "libopus", 48000),
    "webm": ("webm", "libopus", 48000),
    "m4a": ("ipod", "aac", 22050),
    "flac": ("flac", "flac", 22050),
}


def encode_audio(wav: bytes, fmt: str, rate: int | None = None) -> bytes:
    """Re-encode a wav into another container/codec (see FORMATS), maybe at another rate."""
    import av

    container, codec, default_rate = FORMATS[fmt]
    rate = rate or default_rate
    src = av.open(io.BytesIO(wav))
    buf = io.BytesIO()
    out = av.open(buf, "w", format=container)
    stream = out.add_stream(codec, rate=rate)
    stream.layout = "mono"
    resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
    for frame in [*src.decode(audio=0), None]:
        for resampled in resampler.resample(frame):
            for packet in stream.encode(resampled):
                out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    src.close()
    return buf.getvalue()


@contextlib.contextmanager
def serve(app: object) -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port; yields its base URL, stops it after."""
    import uvicorn

    from app import MAX_HEADER_BYTES

    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=0,
        log_level="warning",
        http="h11",  # as app.py runs it
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def pcm16(path: object, rate: int = 16_000) -> bytes:
    """A wav file's speech as PCM16 mono at `rate`."""
    import wave

    from core.realtime.resample import Resampler

    with wave.open(str(path)) as wav:
        source, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    return Resampler(source, rate)(frames).tobytes()


def silence_flac(seconds: int, rate: int = 8000) -> bytes:
    """A FLAC file of `seconds` of silence: a few hundred bytes a minute that decode to hours."""
    import av
    import numpy as np

    buf = io.BytesIO()
    out = av.open(buf, "w", format="flac")
    stream = out.add_stream("flac", rate=rate)
    stream.layout = "mono"
    block = np.zeros((1, rate * 10), dtype=np.int16)
    for _ in range(seconds // 10):
        frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    return buf.getvalue()


def report(config: object, line: str) -> None:
    """Write `line` to the pytest terminal, shown even when output is captured."""
    plugins = config.pluginmanager  # type: ignore[attr-defined]
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


LLAMA_SERVER_MODEL = "qwen2.5-0.5b"  # the name the inference server serves the GGUF under


def llama_server_command(gguf: Path, port: int, *, n_ctx: int) -> list[str]:
    """llama.cpp's server on loopback, serving `gguf` as LLAMA_SERVER_MODEL (with the CPU
    backend for this CPU: `core.llm.llama_server`)."""
    return [
        sys.executable,
        "-m",
        "core.llm.llama_server",
        "--model",
        str(gguf),
        "--model_alias",
        LLAMA_SERVER_MODEL,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        "2",
    ]
