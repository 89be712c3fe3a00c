"""The UI's hands-free mode in a real browser: fake microphone -> WebSocket -> spoken answer."""

from __future__ import annotations

import re
import time

from tests.helpers import wer
from tests.webapp import test_ui
from tests.webapp.test_ui import ARTIFACTS, QUESTION, stored_turns
from webapp.ui.auth import COOKIE

# The signed-in page in Debian's Chromium, its fake microphone saying QUESTION, then silence.
live_server = test_ui.live_server
microphone_wav = test_ui.microphone_wav
browser_page = test_ui.browser_page


def watch_console(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Collect the page's console errors and uncaught exceptions from now on."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def status(page) -> str:  # type: ignore[no-untyped-def]
    return page.locator("#handsfree-status").inner_text()


# An answer's line once its audio started, unless talked over before any of it was heard.
ANSWER = "#handsfree-log .handsfree-agent[data-turn-id]:not([data-heard=''])"


def wait_for_first_answer(page, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Wait until an answer has played to its end, or was talked over after it began.

    Chromium's fake microphone loops, so the question may come again while the answer plays
    (or, on a slow machine, while the agent still thinks): that is a real barge-in, and the
    page is then hearing the user instead of listening.
    """
    root = page.locator("#handsfree .handsfree")
    deadline = time.monotonic() + timeout
    while True:
        state = root.get_attribute("data-state")
        assert state != "error", status(page)
        if page.locator(ANSWER).count() and state in ("listening", "hearing"):
            return
        assert time.monotonic() < deadline, f"no answer finished; status: {status(page)}"
        time.sleep(0.05)


def stored_turn(base: str, token: str, session_id: str, turn_id: int) -> dict:
    """The turn as the REST API shows it to its owner."""
    return next(turn for turn in stored_turns(base, token, session_id) if turn["id"] == turn_id)


def test_handsfree_section_renders_and_its_script_runs(browser_page, live_server: str) -> None:
    # A second tab of the signed-in browser, watched from its first request.
    page = browser_page.context.new_page()
    problems = watch_console(page)
    page.goto(live_server + "/")
    start = page.locator("#handsfree-start")
    start.wait_for(timeout=30_000)
    assert start.inner_text() == "Start conversation"
    assert page.get_by_role("heading", name="Hands-free conversation").is_visible()
    # The script ran: it wrote the idle status and the log's counters.
    assert "Press Start conversation" in status(page)
    log = page.locator("#handsfree-log")
    assert log.get_attribute("data-audio-bytes") == "0"
    assert log.get_attribute("data-turns") == "0"
    assert problems == []


def test_hands_free_conversation_hears_the_question_and_speaks_the_answer(
    browser_page, live_server: str
) -> None:
    page = browser_page
    problems = watch_console(page)
    start = page.locator("#handsfree-start")
    start.click()
    assert start.inner_text() == "Stop"
    wait_for_first_answer(page)

    agent = page.locator(ANSWER).first
    turn_id = int(agent.get_attribute("data-turn-id") or 0)
    said = page.locator(f"#handsfree-log .handsfree-user[data-turn-id='{turn_id}']").inner_text()
    assert said.startswith("You: ")
    said = said.removeprefix("You: ")
    # Chromium resamples its fake microphone; Whisper base may miss one word of six.
    assert wer(QUESTION, said) <= 0.34, said
    assert agent.inner_text().startswith("Agent: ")
    answer = agent.locator("span").first.inner_text().strip()
    assert answer, "no answer text streamed in"
    log = page.locator("#handsfree-log")
    rate = int(log.get_attribute("data-output-rate") or 0)
    assert rate == 22050
    audio_bytes = int(log.get_attribute("data-audio-bytes") or 0)
    assert audio_bytes > 2 * rate * 0.5, f"only {audio_bytes} bytes of reply audio"
    # ...and the page played it: the audio clock ran through it (or up to the barge-in).
    heard = agent.get_attribute("data-heard")
    played_ms = int(log.get_attribute("data-played-ms") or 0)
    assert (0 if heard is not None else 300) < played_ms, played_ms
    assert played_ms <= audio_bytes / (2 * rate) * 1000 + 50, (played_ms, audio_bytes)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "handsfree.png"), full_page=True)

    # Stop before the looping fake microphone asks again.
    start.click()
    assert start.inner_text() == "Start conversation"
    assert status(page).startswith("Stopped")
    assert problems == []

    # The page showed what the engine stored, for this user, in this session.
    session_id = log.get_attribute("data-session-id") or ""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)
    turn = stored_turn(live_server, token, session_id, turn_id)
    assert turn["user_text"].strip() == said.strip()
    if heard is None:
        assert (turn["answer"] or "").strip() == answer
    else:  # talked over: the engine stores, a moment later, the part that was heard
        deadline = time.monotonic() + 10
        while (turn["answer"] or "") != heard:
            assert time.monotonic() < deadline, (turn["answer"], heard)
            time.sleep(0.2)
            turn = stored_turn(live_server, token, session_id, turn_id)

    # The page's Conversation view shows the conversation as stored, with the timings line,
    # and the session is among the earlier conversations (no reload needed).
    last = wait_for_stored_session_in_chat(page, live_server, token, session_id)[-1]
    timings = page.locator("#timings").inner_text()
    assert timings.startswith("Last turn, from ") and "first token" in timings, timings
    assert timings.endswith("interrupted") == last["interrupted"], (timings, last)
    if last["realtime"]:  # timed from the end of speech (not cut short before that)
        assert "from when you stopped speaking" in timings, timings
        first_audio = last["realtime"]["first_audio_ms"]
        assert f"first audio {first_audio / 1000:.2f} s" in timings, (timings, last)
    assert page.locator("#plot").is_visible()
    listed = page.locator("#sessions input").input_value()  # "<title> · <n> turn(s)"
    assert listed.endswith("turn(s)") and said.strip()[:20] in listed, listed


CHAT_ROWS = """() => Array.from(document.querySelectorAll('#chat .message-row'), (row) =>
    Array.from(row.querySelectorAll('.message-content'), (text) => [
        row.classList.contains('user-row') ? 'user' : 'bot',
        text.innerText.trim(),
    ])).flat()"""


def plain(text: str) -> str:
    """Text as compared with the chat's: markdown's marks dropped, spaces made one."""
    return " ".join(re.sub(r"[*_`#]", "", text).split())


def shown(turn: dict) -> list[tuple[str, str]]:
    """A stored turn as the Conversation view shows it: an interrupted answer marked."""
    rows = [("user", plain(turn["user_text"]))]
    answer = plain(turn["answer"] or "")
    if turn["interrupted"]:
        rows.append(("bot", f"{answer} — (interrupted)" if answer else "(interrupted)"))
    elif answer:
        rows.append(("bot", answer))
    return rows


def wait_for_stored_session_in_chat(  # type: ignore[no-untyped-def]
    page, base: str, token: str, session_id: str
) -> list[dict]:
    """Wait until the page's Conversation view shows the session as stored; its turns."""
    deadline = time.monotonic() + 20
    while True:
        turns = stored_turns(base, token, session_id)
        expected = [row for turn in turns for row in shown(turn)]
        chat = [(role, plain(text)) for role, text in page.evaluate(CHAT_ROWS)]
        if chat == expected:
            return turns
        assert time.monotonic() < deadline, (chat, expected)
        time.sleep(0.2)


def test_an_answer_stopped_halfway_is_stored_and_shown_interrupted(
    browser_page, live_server: str
) -> None:
    page = browser_page
    start = page.locator("#handsfree-start")
    start.click()
    root = page.locator("#handsfree .handsfree")
    log = page.locator("#handsfree-log")
    deadline = time.monotonic() + 120
    # Stopped while the answer plays, some of it heard (the playback reports come each 250 ms).
    while not (
        root.get_attribute("data-state") == "speaking"
        and int(log.get_attribute("data-played-ms") or 0) >= 600
    ):
        assert root.get_attribute("data-state") != "error", status(page)
        assert time.monotonic() < deadline, f"no answer played; status: {status(page)}"
        time.sleep(0.02)
    start.click()
    agent = page.locator("#handsfree-log .handsfree-agent[data-turn-id]").last
    turn_id = int(agent.get_attribute("data-turn-id") or 0)
    streamed = agent.locator("span").first.inner_text().strip()
    session_id = log.get_attribute("data-session-id") or ""

    token = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)
    turn = stored_turn(live_server, token, session_id, turn_id)
    deadline = time.monotonic() + 15
    while not turn["interrupted"]:
        assert time.monotonic() < deadline, turn
        time.sleep(0.2)
        turn = stored_turn(live_server, token, session_id, turn_id)
    heard = turn["answer"] or ""
    assert streamed.startswith(heard) and len(heard) < len(streamed), (heard, streamed)
    # The view shows the part heard, marked, from the stored flag; so does the timings line.
    wait_for_stored_session_in_chat(page, live_server, token, session_id)
    assert page.evaluate(CHAT_ROWS)[-1][1].endswith("(interrupted)")
    assert page.locator("#timings").inner_text().endswith("interrupted")
    assert page.locator("#timings").inner_text().endswith("interrupted")
