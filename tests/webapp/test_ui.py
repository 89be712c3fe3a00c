"""The browser UI: sign-in guard on every Gradio route, and real-browser end-to-end turns."""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
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
    if (!rows.length) return '';
    const texts = rows[rows.length - 1].querySelectorAll('.message-content');
    return Array.from(texts, (text) => text.innerText.trim()).join('\\n').trim();
}"""
# The recordings in the conversation: each user message spoken has its own player.
RECORDINGS = "#chat .message-row.user-row .minimal-audio-player"
RECORD = "#mic button.record-button"


def last_message(page, role: str) -> str:  # type: ignore[no-untyped-def]
    """The text of the chat's last message from `role` ("user" or "bot")."""
    return str(page.evaluate(LAST_MESSAGE, role))


def record(page, seconds: float = 4.0) -> None:  # type: ignore[no-untyped-def]
    """One click on Record, the fake microphone speaks, one click on Stop."""
    page.locator(RECORD).click()
    page.wait_for_timeout(int(seconds * 1000))
    page.locator("#mic button.stop-button").click()


def run_turn(page, start) -> list[str]:  # type: ignore[no-untyped-def]
    """Start a turn with `start()`, then wait until the status says Done (again, after an
    earlier turn's Done); returns each value the agent's message in the chat showed, recorded
    in the page itself (every 5 ms, so a slow test machine cannot miss the steps of a stream)."""
    page.evaluate(
        """(last) => {
        window.__seen = [];
        window.__busy = false;
        const before = eval(last)('bot');
        const status = document.querySelector('#status');
        clearInterval(window.__poll);
        window.__poll = setInterval(() => {
            const value = eval(last)('bot');
            if (value && value !== before && window.__seen[window.__seen.length - 1] !== value) {
                window.__seen.push(value);
            }
            if (!status.innerText.includes('Done')) window.__busy = true;
        }, 5);
    }""",
        LAST_MESSAGE,
    )
    start()
    deadline = time.monotonic() + 90
    while True:
        status = page.locator("#status").inner_text()
        assert "Error" not in status, status
        if "Done" in status and page.evaluate("() => window.__busy"):
            break
        assert time.monotonic() < deadline, "the turn did not finish"
        time.sleep(0.05)
    return list(page.evaluate("() => { clearInterval(window.__poll); return window.__seen; }"))


def check_spoken_answer(page) -> None:  # type: ignore[no-untyped-def]
    """The page's player plays the answer by itself, piece by piece as it arrives."""
    page.wait_for_function("() => window.voiceAgentSpoken() > 500", timeout=30_000)
    feed = page.locator("#speech-feed textarea").input_value()
    turn_id, rate, stopped_at, *pieces = feed.split(";")
    assert int(turn_id) > 0 and int(rate) > 0 and float(stopped_at) > 0, feed[:200]
    assert pieces and all(pieces), feed[:200]


def api_token(page) -> str:  # type: ignore[no-untyped-def]
    """The signed-in browser's JWT (the UI's cookie), for the REST API."""
    return next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)


def stored_turns(base: str, token: str, session_id: str) -> list[dict]:
    """The session's turns as the REST API shows them to their owner."""
    res = httpx.get(f"{base}/sessions/{session_id}", headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 200, res.text
    return list(res.json()["turns"])


def page_session(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator("#page-session textarea").input_value())


# Notes, in the page, when the first answer starts playing (the player's own clock).
WATCH_PLAYING = """() => {
    window.__playing = null;
    const poll = setInterval(() => {
        if (window.voiceAgentSpoken && window.voiceAgentSpoken() > 0) {
            window.__playing = performance.now();
            clearInterval(poll);
        }
    }, 5);
}"""

UPLOADED = """() => Math.max(...performance.getEntriesByType('resource')
    .filter((entry) => entry.name.includes('/gradio_api/upload'))
    .map((entry) => entry.responseEnd))"""


def check_timed_from_the_stop(page, base: str) -> None:  # type: ignore[no-untyped-def]
    """The turn's timings count from the press of Stop, by the browser's clock: the upload of
    the recording is in them, and the first audio is when the player started playing."""
    feed = page.locator("#speech-feed textarea").input_value()
    turn_id, _, stopped = feed.split(";")[:3]
    stopped_at = float(stopped)
    page.wait_for_function("() => window.voiceAgentHeard && window.__playing", timeout=30_000)
    heard = page.evaluate("() => window.voiceAgentHeard")
    assert heard["turn_id"] == int(turn_id)
    # When the player's clock passed the first piece; the report adds the output's latency.
    playing_ms = page.evaluate("() => window.__playing") - stopped_at
    assert -20 <= heard["heard_ms"] - playing_ms <= 300, (heard, playing_ms)
    uploaded_ms = page.evaluate(UPLOADED) - stopped_at
    assert uploaded_ms > 0

    token, session_id = api_token(page), page_session(page)
    deadline = time.monotonic() + 10
    while True:
        (turn,) = [t for t in stored_turns(base, token, session_id) if t["id"] == int(turn_id)]
        if turn["realtime"] and turn["realtime"]["first_audio_ms"] is not None:
            break
        assert time.monotonic() < deadline, turn
        time.sleep(0.1)
    timed = turn["realtime"]
    # The transcript came after the upload and the transcription, both counted from the stop.
    assert timed["transcript_ms"] >= uploaded_ms + turn["timings"]["stt_ms"] - 1, (
        turn,
        uploaded_ms,
    )
    assert timed["first_token_ms"] > timed["transcript_ms"]
    assert timed["first_audio_ms"] == pytest.approx(heard["heard_ms"], abs=0.05)
    expected = [
        f"transcript {timed['transcript_ms'] / 1000:.2f} s",
        f"first token {timed['first_token_ms'] / 1000:.2f} s",
        f"first audio {timed['first_audio_ms'] / 1000:.2f} s",
    ]
    deadline = time.monotonic() + 10
    while not all(part in (line := page.locator("#timings").inner_text()) for part in expected):
        assert time.monotonic() < deadline, (line, expected)
        time.sleep(0.05)
    assert "from when you stopped speaking" in line and "after the first token" in line, line


def test_speak_into_the_microphone_twice_with_one_click_each(browser_page, live_server) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.evaluate(WATCH_PLAYING)
    seen = run_turn(page, lambda: record(page))
    transcript = last_message(page, "user")
    # Chromium resamples its fake microphone to 44.1 kHz; Whisper base may miss one word of six.
    assert wer(QUESTION, transcript) <= 0.34, transcript
    answer = last_message(page, "bot")
    assert answer
    assert len(seen) >= 2, "the answer did not grow in place in the chat"
    assert seen[-1] == answer
    check_spoken_answer(page)
    check_timed_from_the_stop(page, live_server)
    assert page.locator("#plot").is_visible(), "the timings plot did not appear"
    # Conversation-first: the answer is in the chat once, no separate boxes repeat it.
    assert page.locator("#transcript, #answer").count() == 0
    assert page.locator("#chat").inner_text().count(answer[:20]) == 1
    # The recording went into the conversation, and the recorder is ready to record again.
    expect(page.locator(RECORDINGS)).to_have_count(1)
    assert page.locator(RECORD).is_visible()

    run_turn(page, lambda: record(page))
    expect(page.locator(RECORDINGS)).to_have_count(2)
    users = page.locator("#chat .message-row.user-row .message-content").all_inner_texts()
    assert len(users) == 2 and all(wer(QUESTION, said) <= 0.34 for said in users), users
    assert len(page.locator("#chat .message-row.bot-row").all_inner_texts()) == 2
    assert page.locator(RECORD).is_visible()
    turns = stored_turns(live_server, api_token(page), page_session(page))
    assert [t["source"] for t in turns] == ["audio", "audio"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui.png"), full_page=True)


def test_new_conversation_clears_the_recorder(browser_page) -> None:
    page = browser_page
    # A recording stays in the recorder while its turn waits in Gradio's queue (behind one
    # still answered): here, by holding the page's request to join the queue.
    held = []

    def hold(route) -> None:  # type: ignore[no-untyped-def]
        # Only the recording's turn (its request carries the recorded file) is held: any
        # other event the page sends meanwhile goes through, or the turn would run.
        if not held and "gradio.FileData" in (route.request.post_data or ""):
            held.append(route)
        else:
            route.continue_()

    page.route("**/gradio_api/queue/join*", hold)
    record(page, seconds=1.0)
    deadline = time.monotonic() + 20
    while not held:
        assert time.monotonic() < deadline, "the recording was not sent"
        page.wait_for_timeout(50)
    recorder = page.locator(RECORD)
    assert recorder.is_hidden(), "the recorder does not hold the recording"
    page.locator("#new-session").click()
    recorder.wait_for(state="visible", timeout=10_000)
    assert "New conversation" in page.locator("#status").inner_text()
    held[0].abort()


def test_upload_a_file_and_hear_the_answer(browser_page, speak) -> None:
    from playwright.sync_api import expect

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
    expect(page.locator(RECORDINGS)).to_have_count(1)
    # Retried: while an update is on its way, Gradio shows a progress timer in its place.
    expect(page.locator("#timings")).to_contain_text("from when you stopped speaking")

    # A typed message, timed from the press of Enter.
    page.locator("#typed textarea").fill("Say hello to me.")
    run_turn(page, lambda: page.locator("#typed textarea").press("Enter"))
    assert last_message(page, "user") == "Say hello to me."
    page.wait_for_function("() => window.voiceAgentHeard && window.voiceAgentHeard.turn_id > 1")
    deadline = time.monotonic() + 10
    # Wait for the line with its first audio: while an update is on its way, Gradio shows a
    # progress timer ("0.0s") in its place.
    while not (line := page.locator("#timings").inner_text()).startswith("Last turn") or (
        "first audio -" in line
    ):
        assert time.monotonic() < deadline, line
        time.sleep(0.05)
    assert line.startswith("Last turn, from when you sent it: first token"), line
    assert "after the first token" in line, line
