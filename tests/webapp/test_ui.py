"""The browser UI: sign-in guard on every Gradio route, and real-browser end-to-end turns."""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from core.audio import pcm16_wav
from tests.helpers import ADMIN, wer
from webapp.ui.auth import COOKIE

CHROMIUM = "/usr/bin/chromium"
QUESTION = "What is the capital of France?"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def client(app_factory) -> Iterator[TestClient]:
    with TestClient(app_factory(ui_enabled=True)) as test_client:
        yield test_client


def test_anonymous_requests_to_gradio_routes_are_refused(client: TestClient) -> None:
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/signin"
    forged = {COOKIE: "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."}
    for cookies in ({}, forged):
        client.cookies.clear()
        client.cookies.update(cookies)
        assert client.get("/config").status_code == 401
        assert client.get("/gradio_api/info").status_code == 401
        join = client.post("/gradio_api/queue/join", json={"fn_index": 0, "data": []})
        assert join.status_code == 401
        upload = client.post("/gradio_api/upload", files={"files": ("a.wav", b"RIFF")})
        assert upload.status_code == 401
        assert client.get("/gradio_api/file=/etc/passwd").status_code == 401
        assert client.get("/", follow_redirects=False).status_code == 303


def test_sign_in_sets_the_api_jwt_as_an_httponly_cookie(client: TestClient) -> None:
    bad = client.post("/signin", data={"username": "admin", "password": "nope-nope"})
    assert bad.status_code == 401 and "Wrong username or password" in bad.text
    res = client.post(
        "/signin",
        data={"username": ADMIN[0], "password": ADMIN[1]},
        follow_redirects=False,
    )
    assert res.status_code == 303
    cookie = res.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    token = client.cookies[COOKIE]
    # The same JWT opens the REST API, and the UI's config now loads.
    api = client.get("/sessions", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    assert client.get("/config").status_code == 200
    client.get("/signout")
    assert client.get("/config").status_code == 401


# Real browser ------------------------------------------------------------------------------


@pytest.fixture
def live_server(app_factory) -> Iterator[str]:
    """The whole app (API and UI) served by uvicorn on a free loopback port."""
    app = app_factory(ui_enabled=True)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def microphone_wav(speak, tmp_path: Path) -> Path:
    """The question spoken by Piper, then silence, for Chromium's fake microphone."""
    source = speak(QUESTION)
    with wave.open(str(source)) as wav:
        rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
    path = tmp_path / "mic.wav"
    path.write_bytes(pcm16_wav(b"\x00\x00" * int(rate * 0.3) + pcm + b"\x00\x00" * rate * 6, rate))
    return path


def chromium_args(microphone_wav: Path) -> list[str]:
    """Debian's Chromium, quiet, with a fake microphone that says `microphone_wav` (looped)."""
    assert Path(CHROMIUM).exists(), "install Debian's chromium (test.sh does)"
    return [
        "--no-sandbox",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone_wav}",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]


@pytest.fixture
def browser_page(microphone_wav: Path, live_server: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=chromium_args(microphone_wav))
        context = browser.new_context(
            permissions=["microphone"], viewport={"width": 1280, "height": 1000}
        )
        page = context.new_page()
        page.goto(live_server + "/")
        assert page.url.endswith("/signin")
        page.fill("#username", ADMIN[0])
        page.fill("#password", ADMIN[1])
        page.click("#signin")
        page.wait_for_selector("#mic", timeout=30_000)
        yield page
        context.close()
        browser.close()


LAST_MESSAGE = """(role) => {
    const rows = document.querySelectorAll('#chat .message-row.' + role + '-row');
    return rows.length ? rows[rows.length - 1].innerText.trim() : '';
}"""


def last_message(page, role: str) -> str:  # type: ignore[no-untyped-def]
    """The text of the chat's last message from `role` ("user" or "bot")."""
    return str(page.evaluate(LAST_MESSAGE, role))


def run_turn(page, start) -> list[str]:  # type: ignore[no-untyped-def]
    """Start a turn with `start()`, then wait until the status says Done; returns each value
    the agent's message in the chat showed, recorded in the page itself (every 5 ms, so a slow
    test machine cannot miss the steps of a stream)."""
    page.evaluate(
        """(last) => {
        window.__seen = [];
        const before = eval(last)('bot');
        clearInterval(window.__poll);
        window.__poll = setInterval(() => {
            const value = eval(last)('bot');
            if (value && value !== before && window.__seen[window.__seen.length - 1] !== value) {
                window.__seen.push(value);
            }
        }, 5);
    }""",
        LAST_MESSAGE,
    )
    start()
    deadline = time.monotonic() + 90
    while "Done" not in (status := page.locator("#status").inner_text()):
        assert "Error" not in status, status
        assert time.monotonic() < deadline, "the turn did not finish"
        time.sleep(0.05)
    return list(page.evaluate("() => { clearInterval(window.__poll); return window.__seen; }"))


def check_spoken_answer(page) -> None:  # type: ignore[no-untyped-def]
    """The page's player plays the answer by itself, piece by piece as it arrives."""
    page.wait_for_function("() => window.voiceAgentSpoken() > 500", timeout=30_000)
    feed = page.locator("#speech-feed textarea").input_value()
    key, rate, *pieces = feed.split(";")
    assert key and int(rate) > 0 and pieces and all(pieces), feed[:200]


def test_speak_into_the_microphone_and_hear_the_answer(browser_page) -> None:
    page = browser_page

    def record() -> None:
        page.locator("#mic button", has_text="Record").first.click()
        page.wait_for_timeout(4000)
        page.locator("#mic button", has_text="Stop").first.click()

    seen = run_turn(page, record)
    transcript = last_message(page, "user")
    # Chromium resamples its fake microphone to 44.1 kHz; Whisper base may miss one word of six.
    assert wer(QUESTION, transcript) <= 0.34, transcript
    answer = last_message(page, "bot")
    assert answer
    assert len(seen) >= 2, "the answer did not grow in place in the chat"
    assert seen[-1] == answer
    check_spoken_answer(page)
    timings = page.locator("#timings").inner_text()
    assert "first audio" in timings and "after the first token" in timings, timings
    assert page.locator("#plot").is_visible(), "the timings plot did not appear"
    # Conversation-first: the answer is in the chat once, no separate boxes repeat it.
    assert page.locator("#transcript, #answer").count() == 0
    assert page.locator("#chat").inner_text().count(answer[:20]) == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui.png"), full_page=True)


def test_upload_a_file_and_hear_the_answer(browser_page, speak) -> None:
    page = browser_page
    sentence = "Tell me one fact about the moon."
    path = speak(sentence)

    def upload() -> None:
        page.locator('#mic button[aria-label="Upload file"]').click()
        page.locator("#mic input[type=file]").set_input_files(str(path))

    run_turn(page, upload)
    assert wer(sentence, last_message(page, "user")) <= 0.2
    assert last_message(page, "bot")
    check_spoken_answer(page)
