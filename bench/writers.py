"""50 concurrent writers for 2 minutes against the real server and its SQLite file: does any
"database is locked" (or any other error) reach a client, and is every acknowledged turn stored?

The answers come from a Groq-compatible server on loopback (tests/groq_server.py, through the
real groq SDK), so the writers are limited by the database, not by a local model. Three hey
processes write at once: new turns (`POST /response`: a session, a turn, its answer), settings
(`PUT /settings`) and session titles (`PATCH /sessions/{id}`).
"""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bench.common import Check, Result, running_server, write_result
from bench.loadgen import Run, hey, require_hey
from tests.groq_server import API_KEY, FakeGroq, running_fake_groq

NAME = "writers"
SECONDS = 120
WRITERS = {"/response": 35, "/settings": 10, "/sessions/{id}": 5}  # 50 in all


def run() -> Result:
    require_hey()
    with running_fake_groq() as fake:
        fake.answer = "Four."
        runs, log, stored, integrity = write_load(fake)
    return report(runs, log, stored, integrity)


def groq_env(fake: FakeGroq) -> dict[str, str]:
    """Answers from the loopback Groq: the writers are limited by the database."""
    return {
        "GROQ_API_KEY": API_KEY,
        "GROQ_BASE_URL": fake.url,
        "LLM_PROVIDER": "groq",
        "STT_PROVIDER": "local",
        "UI_ENABLED": "false",
    }


def write_load(fake: FakeGroq) -> tuple[dict[str, Run], str, int, str]:
    with running_server(env=groq_env(fake)) as server:
        runs = writers(server.base_url, server.auth)
        log = server.log_path.read_text(errors="replace")
        db = server.data_dir / "agent.db"
        with sqlite3.connect(db) as conn:
            stored = conn.execute(
                "SELECT count(*) FROM turns WHERE status = 'answered'"
            ).fetchone()[0]
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return runs, log, stored, integrity


def writers(base_url: str, auth: dict[str, str], seconds: int = SECONDS) -> dict[str, Run]:
    """The 50 writers at `base_url` for `seconds`, all at once."""
    with httpx.Client(base_url=base_url, headers=auth, timeout=60) as client:
        session = client.post("/response", json={"text": "Hello"}).json()["session_id"]
    jobs = {
        "/response": ("POST", "/response", {"text": "What is two plus two?"}),
        "/settings": ("PUT", "/settings", {"personality": "formal"}),
        "/sessions/{id}": ("PATCH", f"/sessions/{session}", {"title": "Load test"}),
    }

    def write(kind: str) -> Run:
        method, path, body = jobs[kind]
        return hey(
            base_url + path,
            seconds=seconds,
            workers=WRITERS[kind],
            method=method,
            headers=auth,
            body=json.dumps(body).encode(),
        )

    print(f"{sum(WRITERS.values())} writers for {seconds} s: {WRITERS}")
    with ThreadPoolExecutor(len(jobs)) as pool:
        return dict(zip(jobs, pool.map(write, jobs), strict=True))


def report(
    runs: dict[str, Run], log: str, stored: int, integrity: str | None, name: str = NAME
) -> Result:
    figures: dict[str, Any] = {}
    failures = 0
    for kind, done in runs.items():
        figures[kind] = done.figures()
        ok = figures[kind]["answered_latency"]
        failures += sum(n for s, n in done.statuses().items() if s != "200")
        failures += bool(done.errors)
        print(
            f"  {kind}: {len(done.replies)} requests, {figures[kind]['answered_per_s']:.1f}/s, "
            f"statuses {done.statuses()}, p50/p95/p99 {ok['p50_s'] * 1000:.0f}/"
            f"{ok['p95_s'] * 1000:.0f}/{ok['p99_s'] * 1000:.0f} ms"
            + (f", errors: {done.errors}" if done.errors else "")
        )
    locked = log.lower().count("database is locked")
    acknowledged = len(runs["/response"].of(200)) + 1  # and the one that made the session
    print(f"  turns acknowledged {acknowledged}, stored {stored}; integrity_check: {integrity}")
    print(f"  'database is locked' in the server log: {locked}")
    figures |= {
        "turns_acknowledged": acknowledged,
        "turns_stored": stored,
        "integrity_check": integrity,
        "database_locked_in_log": locked,
    }
    result = Result(name, figures=figures)
    result.checks += [
        Check("replies other than 200 (incl. timeouts)", failures, 0, "replies"),
        Check("'database is locked' in the server log", locked, 0, "lines"),
        Check("acknowledged turns missing from the database", acknowledged - stored, 0, "turns"),
    ]
    if integrity is not None:
        result.checks.append(Check("integrity_check not ok", int(integrity != "ok"), 0, ""))
    return result


def main() -> None:
    write_result(run())


if __name__ == "__main__":
    main()
