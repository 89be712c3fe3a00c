"""Sustained load on `POST /response` and `POST /upload` at 1x, 2x and 5x the machine's
capacity, made by the HTTP load generator hey, against the real server on loopback.

Capacity is measured first, per endpoint, with hey: the answers per second that two closed-loop
clients get (two keep the model busy without gaps; more only queue). Each level then offers k
times that rate for `LEVEL_S` seconds as an open loop (requests evenly spaced, sent whether or
not earlier ones were answered: see bench/loadgen.py). Beyond capacity the server should
refuse the excess at once (503 with Retry-After) and keep answering the rest within its queue
bound (MAX_QUEUE_WAIT_S, 10 s by default), with no timeouts and no other errors.
"""

from __future__ import annotations

import json
import time
from typing import Any

from bench.common import Check, Result, Server, running_server, speech_bytes, write_result
from bench.loadgen import hey, multipart, open_loop, require_hey

NAME = "load"
CALIBRATE_S = 20
LEVEL_S = 30
LEVELS = (1, 2, 5)
QUEUE_BOUND_S = 10.0  # the server's MAX_QUEUE_WAIT_S (default)
DRAIN_S = QUEUE_BOUND_S + 2  # between levels: what one level queued is gone before the next
QUESTION = "What is two plus two?"
SENTENCE = "Please remind me to call my sister tomorrow morning."
TARGET_REFUSAL_P99_S = 0.5
TARGET_GOODPUT_SHARE = 0.8  # answers per second at 5x, against capacity


def endpoint(server: Server, path: str, body: bytes, content_type: str) -> dict[str, Any]:
    url = server.base_url + path

    calibration = hey(
        url,
        seconds=CALIBRATE_S,
        workers=2,
        headers=server.auth,
        body=body,
        content_type=content_type,
    )
    capacity = calibration.figures()["answered_per_s"]
    print(f"\n{path}: capacity {capacity:.2f} answers/s ({calibration.statuses()})")
    levels: dict[str, Any] = {}
    for k in LEVELS:
        time.sleep(DRAIN_S)
        figures = open_loop(
            url,
            rate=k * capacity,
            seconds=LEVEL_S,
            headers=server.auth,
            body=body,
            content_type=content_type,
        ).figures()
        levels[f"{k}x"] = figures
        ok, no = figures["answered_latency"], figures["refused_latency"]
        print(
            f"  {k}x: sent {figures['sent_per_s']:.2f}/s, "
            f"answered {figures['answered_per_s']:.2f}/s, statuses {figures['statuses']}; "
            "answered p50/p95/p99 "
            f"{ok['p50_s']:.2f}/{ok['p95_s']:.2f}/{ok['p99_s']:.2f} s (max {ok['max_s']:.2f});"
            f" refused p50/p99 {no['p50_s']:.3f}/{no['p99_s']:.3f} s"
            + (f"; errors: {figures['errors']}" if figures["errors"] else "")
        )
    return {"capacity_per_s": capacity, "calibration": calibration.figures(), "levels": levels}


def checks(path: str, figures: dict[str, Any]) -> list[Check]:
    top = figures["levels"][f"{LEVELS[-1]}x"]
    unexpected = sum(
        n
        for level in figures["levels"].values()
        for status, n in level["statuses"].items()
        if status not in ("200", "503")
    ) + sum(bool(level["errors"]) for level in figures["levels"].values())
    worst = max(level["answered_latency"]["max_s"] for level in figures["levels"].values())
    share = top["answered_per_s"] / figures["capacity_per_s"]
    return [
        Check(
            f"{path} 5x: refusals answered within, p99",
            top["refused_latency"]["p99_s"],
            TARGET_REFUSAL_P99_S,
            "s",
        ),
        Check(f"{path}: slowest answer at any level", worst, QUEUE_BOUND_S + 5, "s"),
        Check(f"{path}: errors other than 503 (incl. timeouts)", unexpected, 0, "replies"),
        Check(
            f"{path} 5x: capacity lost to overload",
            round(1 - share, 3),
            1 - TARGET_GOODPUT_SHARE,
            "x",
        ),
    ]


def run() -> Result:
    require_hey()
    _seconds, wav = speech_bytes(SENTENCE)
    upload_body, upload_type = multipart("file", "speech.wav", wav)
    result = Result(NAME)
    with running_server() as server:
        answer = json.dumps({"text": QUESTION}).encode()
        for path, body, content_type in (
            ("/response", answer, "application/json"),
            ("/upload", upload_body, upload_type),
        ):
            figures = endpoint(server, path, body, content_type)
            result.figures[path] = figures
            result.checks += checks(path, figures)
    return result


def main() -> None:
    write_result(run())


if __name__ == "__main__":
    main()
