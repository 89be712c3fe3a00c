"""`GET /health` latency while four uploads at a time keep the speech model busy."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.common import (
    Check,
    Result,
    Server,
    percentile,
    running_server,
    speech_bytes,
    summary_ms,
    write_result,
)
from bench.noise import OtherLoad, report_machine_load, wait_for_quiet

NAME = "health_under_load"
CONCURRENT_UPLOADS = 4
LOAD_SECONDS = 20.0
BASELINE_SECONDS = 5.0
MAX_HEALTH_REQUESTS = 50_000  # per phase; the time limit normally ends it first
TARGET_P99_MS = 50.0
SPEECH = "Please remind me to call my sister tomorrow morning. How far is the museum from here?"


def hammer_health(server: Server, keep_going: threading.Event, seconds: float) -> list[float]:
    """Sequential `GET /health` calls until `keep_going` clears or `seconds` pass; latencies."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        while keep_going.is_set() and time.monotonic() < deadline:
            start = time.perf_counter()
            res = client.get("/health")
            latencies.append(time.perf_counter() - start)
            if res.status_code != 200:
                raise RuntimeError(f"/health answered {res.status_code}: {res.text[:200]}")
            if len(latencies) >= MAX_HEALTH_REQUESTS:
                break
    return latencies


def upload_waves(server: Server, data: bytes, seconds: float) -> tuple[list[float], int]:
    """Waves of `CONCURRENT_UPLOADS` simultaneous uploads until `seconds` pass."""
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    def one(client: httpx.Client) -> float:
        start = time.perf_counter()
        res = client.post("/upload", files={"file": ("speech.wav", data, "audio/wav")})
        res.raise_for_status()
        return time.perf_counter() - start

    clients = [server.client(timeout=300.0) for _ in range(CONCURRENT_UPLOADS)]
    try:
        with ThreadPoolExecutor(CONCURRENT_UPLOADS) as pool:
            waves = 0
            while time.monotonic() < deadline:
                futures = [pool.submit(one, client) for client in clients]
                for future in futures:
                    try:
                        latencies.append(future.result())
                    except httpx.HTTPError as exc:
                        errors += 1
                        print(f"  upload failed: {exc}")
                waves += 1
                print(f"  wave {waves}: {CONCURRENT_UPLOADS} uploads done")
    finally:
        for client in clients:
            client.close()
    return latencies, errors


def run() -> Result:
    load = report_machine_load()
    seconds, data = speech_bytes(SPEECH)

    with running_server() as server:
        pids = [os.getpid(), server.pid]
        with server.client() as client:  # warm-up: first decode and transcription
            client.post(
                "/upload", files={"file": ("speech.wav", data, "audio/wav")}
            ).raise_for_status()
        always = threading.Event()
        always.set()

        wait_for_quiet()
        print(f"Baseline: GET /health for {BASELINE_SECONDS:.0f} s, server idle")
        others = OtherLoad(pids)
        baseline = hammer_health(server, always, BASELINE_SECONDS)
        baseline_other = others.share()

        wait_for_quiet()
        print(f"Load: waves of {CONCURRENT_UPLOADS} concurrent uploads for {LOAD_SECONDS:.0f} s")
        loading = threading.Event()
        loading.set()
        others = OtherLoad(pids)
        outcome: dict[str, tuple[list[float], int]] = {}

        def load_thread() -> None:
            try:
                outcome["uploads"] = upload_waves(server, data, LOAD_SECONDS)
            finally:
                loading.clear()

        worker = threading.Thread(target=load_thread, name="upload-load")
        worker.start()
        try:
            time.sleep(0.2)  # let the first wave reach the server
            under_load = hammer_health(server, loading, LOAD_SECONDS * 3)
        finally:
            worker.join(timeout=LOAD_SECONDS * 10)
        load_other = others.share()
        if "uploads" not in outcome:
            raise RuntimeError("The upload load did not finish.")
        upload_s, upload_errors = outcome["uploads"]

    def show(label: str, values: list[float], other: float) -> None:
        ms = [v * 1000 for v in values]
        print(
            f"{label:<11} /health: {len(ms)} requests, p50 {percentile(ms, 50):.2f} ms, "
            f"p99 {percentile(ms, 99):.2f} ms, max {max(ms):.2f} ms "
            f"(other processes used {other:.0%} of the machine)"
        )

    print()
    show("idle", baseline, baseline_other)
    show("under load", under_load, load_other)
    print(
        f"uploads: {len(upload_s)} done, {upload_errors} failed, "
        f"median {percentile(upload_s, 50):.2f} s each ({CONCURRENT_UPLOADS} at a time)"
    )
    p99 = percentile(under_load, 99) * 1000
    result = Result(NAME)
    result.checks.append(Check("/health p99 under upload load", round(p99, 2), TARGET_P99_MS, "ms"))
    result.figures = {
        **load,
        "audio_seconds": round(seconds, 3),
        "baseline": summary_ms(baseline),
        "under_load": summary_ms(under_load),
        "baseline_other_processes_cpu_share": round(baseline_other, 3),
        "load_other_processes_cpu_share": round(load_other, 3),
        "uploads": {**summary_ms(upload_s), "errors": upload_errors},
    }
    return result


def main() -> None:
    write_result(run())


if __name__ == "__main__":
    main()
