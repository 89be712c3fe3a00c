"""The Next.js example (examples/nextjs) in a real browser, built and served by `next start`,
on a live backend: sign in, a recorded question answered and spoken, a hands-free turn."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import create_app
from core.audio import pcm16_wav
from core.providers import Providers
from tests.conftest import make_settings
from tests.helpers import ADMIN, REPO, die_with_parent, free_port, login, serve, wer
from tests.webapp.test_ui import ARTIFACTS, CHROMIUM, QUESTION, chromium_args
from tests.webapp.test_ui_handsfree import watch_console

EXAMPLE = REPO / "examples" / "nextjs"
# What the build is made of: newer than its BUILD_ID, it is built again.
SOURCES = ("app", "components", "lib", "public", "next.config.ts", "tsconfig.json")


def build_is_stale() -> bool:
    built = EXAMPLE / ".next" / "BUILD_ID"
    if not built.exists() or not (EXAMPLE / "node_modules").is_dir():
        return True
    files = [EXAMPLE / "package-lock.json"]
    for name in SOURCES:
        path = EXAMPLE / name
        files += [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else [path]
    return max(f.stat().st_mtime for f in files) > built.stat().st_mtime


@pytest.fixture(scope="module")
def example() -> Path:
    """The example, built (test.sh builds it first; here only when the build is stale)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: the Next.js example cannot be built")
    if build_is_stale():
        subprocess.run([REPO / "scripts" / "nextjs.sh"], check=True, timeout=900)
    return EXAMPLE


@pytest.fixture(scope="module")
def origin() -> str:
    """Where the example is served: the backend must allow it (CORS)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def backend(
    origin: str, local_providers: Providers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    settings = make_settings(tmp_path_factory.mktemp("nextjs") / "data", cors_origins=[origin])
    with serve(create_app(settings, providers=local_providers)) as url:
        yield url


@pytest.fixture(scope="module")
def frontend(example: Path, origin: str, backend: str) -> Iterator[str]:
    """`next start` on the built example, pointed at the backend; stopped whatever happens."""
    env = {
        **os.environ,
        "NEXT_PUBLIC_API_URL": backend,
        "NEXT_TELEMETRY_DISABLED": "1",
    }
    port = origin.rsplit(":", 1)[1]
    server = subprocess.Popen(
        [example / "node_modules" / ".bin" / "next", "start", "-H", "127.0.0.1", "-p", port],
        cwd=example,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: `next start` runs a child server
        preexec_fn=die_with_parent(signal.SIGTERM),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"next start exited with {server.returncode}"
            try:
                if httpx.get(origin + "/", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "next start did not answer within 60 s"
            time.sleep(0.2)
        yield origin
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture
def microphone_wav(speak, tmp_path: Path) -> Path:
    """The question spoken by Piper, then silence, for Chromium's fake microphone (which
    loops): 15 s of it, so that even a slow machine answers before the question comes again."""
    with wave.open(str(speak(QUESTION))) as wav:
        rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
    path = tmp_path / "mic.wav"
    path.write_bytes(pcm16_wav(b"\x00\x00" * int(rate * 0.3) + pcm + b"\x00\x00" * rate * 15, rate))
    return path


@pytest.fixture
def page(microphone_wav: Path):
    """A page in a new browser whose fake microphone says QUESTION."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(microphone_wav))
        context = browser.new_context(
            permissions=["microphone"], viewport={"width": 1000, "height": 700}
        )
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def sign_in(page) -> None:  # type: ignore[no-untyped-def]
    page.fill("#username", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.click("#signin")
    page.wait_for_selector("#record", timeout=30_000)


def state(page, section: str) -> str:  # type: ignore[no-untyped-def]
    return str(page.get_attribute(section, "data-state"))


def stored_turn(backend: str, turn_id: int) -> tuple[str, dict]:
    """The turn's session id, and the turn as the REST API shows it to the admin."""
    with httpx.Client(base_url=backend) as client:
        headers = login(client)  # type: ignore[arg-type]
        for session in client.get("/sessions", headers=headers).json():
            turns = client.get(f"/sessions/{session['id']}", headers=headers).json()["turns"]
            for turn in turns:
                if turn["id"] == turn_id:
                    return session["id"], turn
    raise AssertionError(f"turn {turn_id} is not stored")


def wait_until_idle(page, section: str, status: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 120
    while state(page, section) != "idle":
        assert state(page, section) != "error", page.inner_text(status)
        assert time.monotonic() < deadline, f"no answer: {page.inner_text(status)}"
        time.sleep(0.05)


# Every value the last answer showed, recorded in the page every 5 ms (a slow machine cannot
# miss the steps of the stream).
WATCH_ANSWER = """() => {
    window.__seen = [];
    window.__poll = setInterval(() => {
        const last = document.querySelector('#exchanges li:last-child .answer');
        const value = last ? last.textContent : '';
        if (value && window.__seen[window.__seen.length - 1] !== value) window.__seen.push(value);
    }, 5);
}"""


def test_sign_in_record_a_question_hear_the_answer_sign_out(
    page, frontend: str, backend: str, speak
) -> None:
    problems = watch_console(page)
    page.goto(frontend + "/")
    page.fill("#username", ADMIN[0])
    page.fill("#password", "not-the-password")
    page.click("#signin")
    assert page.locator("form [role=alert]").inner_text() == "Wrong username or password."
    sign_in(page)
    assert page.inner_text("#account") == ADMIN[0]
    page.evaluate(WATCH_ANSWER)

    page.click("#record")
    section = "#push-to-talk"
    page.wait_for_selector(f"{section}[data-state=recording]", timeout=10_000)
    assert page.get_attribute("#record", "aria-pressed") == "true"
    assert page.inner_text("#record") == "■ Stop"
    # The level meter follows the voice (the fake microphone is silent between questions).
    page.wait_for_function(
        "() => Number(document.querySelector('#push-to-talk [role=meter]')"
        ".getAttribute('aria-valuenow')) > 0.3",
        timeout=10_000,
    )
    page.wait_for_timeout(3500)  # the question takes about 2 s
    page.click("#record")
    wait_until_idle(page, section, "#status")
    seen = page.evaluate("() => { clearInterval(window.__poll); return window.__seen; }")

    exchange = page.locator("#exchanges li").last
    transcription = exchange.locator(".transcription").inner_text()
    # Chromium resamples its fake microphone; Whisper base may miss one word of six.
    assert wer(QUESTION, transcription) <= 0.34, transcription
    answer = exchange.locator(".answer").inner_text()
    assert answer and len(seen) >= 2, seen  # streamed: it grew in place
    assert seen[-1] == answer and all(answer.startswith(s.strip()) for s in seen), seen
    assert page.inner_text("#status").startswith("Done: transcribed in")
    # The page shows what the backend stored.
    session_id, turn = stored_turn(backend, int(exchange.get_attribute("data-turn-id") or 0))
    assert (turn["user_text"].strip(), turn["answer"].strip()) == (transcription, answer)
    # The spoken answer plays by itself.
    page.wait_for_function(
        "() => document.querySelector('#answer-audio').currentTime > 0.3", timeout=30_000
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "nextjs.png"), full_page=True)

    # A recording picked from the disk: the next turn of the same conversation.
    page.set_input_files("#upload", speak("And what is the capital of Spain?"))
    exchange = page.locator("#exchanges li").nth(1)
    exchange.wait_for(timeout=60_000)  # transcribed; the answer is on its way
    wait_until_idle(page, section, "#status")
    transcription = exchange.locator(".transcription").inner_text()
    assert wer("And what is the capital of Spain?", transcription) <= 0.34, transcription
    same_session, turn = stored_turn(backend, int(exchange.get_attribute("data-turn-id") or 0))
    assert same_session == session_id
    answer = exchange.locator(".answer").inner_text()
    assert (turn["user_text"].strip(), turn["answer"].strip()) == (transcription, answer)

    page.click("#signout")
    page.wait_for_selector("#signin")
    assert page.locator("#record").count() == 0
    # The only error the browser saw: the refused sign-in.
    assert problems == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]


# The agent's line, once tied to its stored turn (when its audio starts, or at `turn`).
ANSWER = "#handsfree-log p.agent[data-turn-id]"


def test_hands_free_turn_is_heard_answered_and_spoken(page, frontend: str, backend: str) -> None:
    problems = watch_console(page)
    page.goto(frontend + "/")
    sign_in(page)
    section = "#hands-free"
    page.click("#handsfree-start")
    assert page.inner_text("#handsfree-start") == "■ Stop"
    # Heard, answered, and played to its end; or, on a very slow machine, talked over by the
    # fake microphone asking again (a real barge-in: the page then stops the voice at once).
    deadline = time.monotonic() + 120
    while not (
        page.locator(ANSWER).count()
        and state(page, section) in ("listening", "hearing")
        and int(page.get_attribute(section, "data-played-ms") or 0) > 0
    ):
        assert state(page, section) != "error", page.inner_text("#handsfree-status")
        assert time.monotonic() < deadline, page.inner_text("#handsfree-status")
        time.sleep(0.05)
    played_ms = int(page.get_attribute(section, "data-played-ms") or 0)
    agent = page.locator(ANSWER).first
    interrupted = agent.get_attribute("data-interrupted") is not None
    assert played_ms > (0 if interrupted else 500), played_ms

    turn_id = int(agent.get_attribute("data-turn-id") or 0)
    said = page.locator(f"#handsfree-log p.you[data-turn-id='{turn_id}'] .said").inner_text()
    assert wer(QUESTION, said) <= 0.34, said
    answer = agent.locator(".said").inner_text()
    assert answer
    page.click("#handsfree-start")
    assert page.inner_text("#handsfree-status") == "Stopped."
    assert problems == []
    _, turn = stored_turn(backend, turn_id)
    assert turn["user_text"].strip() == said
    if not interrupted:
        assert turn["answer"].strip() == answer
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "nextjs-handsfree.png"), full_page=True)


def test_saved_openapi_document_is_the_backends(backend: str) -> None:
    # lib/openapi.d.ts is generated from it (scripts/nextjs.sh checks that); this checks that
    # it is still the API the backend serves. After an API change: npm run gen:openapi, gen:api.
    saved = json.loads((EXAMPLE / "openapi.json").read_text(encoding="utf-8"))
    assert httpx.get(backend + "/openapi.json").json() == saved
