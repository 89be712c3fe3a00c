"""Debian's Chromium on the real page for the browser bench: sign-in, a microphone the bench
speaks into with exact timing (bench/browser_page.js), the page's logs, and its controls."""

from __future__ import annotations

import base64
import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ADMIN

CHROMIUM = "/usr/bin/chromium"
INIT_SCRIPT = Path(__file__).with_name("browser_page.js")
RATE = 16_000
LOUD = 328  # 1 % of full scale: a sample above it is voiced
ARGS = [
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",  # grants the microphone without asking
    "--use-fake-device-for-media-stream",  # lists a microphone; the init script supplies it
    "--autoplay-policy=no-user-gesture-required",  # the bench's microphone context runs
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.contextmanager
def signed_in_page(base_url: str, user: tuple[str, str] = ADMIN) -> Iterator[Any]:
    """A Chromium tab on the app's page, signed in as `user`, with the init script in it."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit("Install Debian's chromium first (scripts/system-deps.sh does).")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(
                permissions=["microphone"], viewport={"width": 1280, "height": 1000}
            )
            context.add_init_script(path=str(INIT_SCRIPT))
            page = context.new_page()
            page.goto(base_url + "/")
            page.fill("#username", user[0])
            page.fill("#password", user[1])
            page.click("#signin")
            page.wait_for_selector("#mic", timeout=60_000)
            page.wait_for_selector("#handsfree-start", timeout=60_000)
            yield page
        finally:
            browser.close()


def now(page: Any) -> float:
    """The page's clock, `performance.now()` in ms."""
    return float(page.evaluate("() => window.__bench.now()"))


def wait_until(page: Any, t: float) -> None:
    """Sleep until the page's clock reaches `t` (ms)."""
    while (left := t - now(page)) > 0:
        time.sleep(min(left, 500) / 1000)


def last_end(page: Any) -> float:
    """When what the page has scheduled or played so far ends (page ms; 0 when nothing)."""
    return float(page.evaluate("() => window.__bench.lastEnd()"))


def snapshot(page: Any) -> dict[str, Any]:
    """The init script's records so far: plays, sounds, clicks, chat; and the page's time."""
    return dict(page.evaluate("() => window.__bench.snapshot()"))


@dataclass(frozen=True)
class Said:
    """One utterance played into the microphone, in page ms."""

    start: float
    voiced_from: float  # the first voiced sample sounds
    voiced_to: float  # the last voiced sample has sounded: the end of speech
    end: float


def voiced_bounds(pcm: bytes) -> tuple[float, float]:
    """Seconds from the start of `pcm` (16-bit mono at RATE) to its first voiced sample and to
    just after its last."""
    loud = np.flatnonzero(np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32)) > LOUD)
    if not len(loud):
        return 0.0, 0.0
    return int(loud[0]) / RATE, (int(loud[-1]) + 1) / RATE


def say(page: Any, pcm: bytes, lead_ms: float = 20) -> Said:
    """Play `pcm` into the page's microphone after whatever is queued; returns when it sounds."""
    b64 = base64.b64encode(pcm).decode("ascii")
    at = page.evaluate(
        "([b, rate, lead]) => window.__bench.say(b, rate, lead)", [b64, RATE, lead_ms]
    )
    first, last = voiced_bounds(pcm)
    start = float(at["start"])
    return Said(start, start + first * 1000, start + last * 1000, float(at["end"]))


def last_click(page: Any) -> float:
    """The page time of the last click or key press the page saw."""
    clicks = snapshot(page)["clicks"]
    if not clicks:
        raise RuntimeError("the page saw no click")
    return float(clicks[-1]["t"])


# Hands-free ------------------------------------------------------------------------------


def handsfree(page: Any) -> dict[str, str]:
    """The hands-free section's state, status line and log counters."""
    return dict(
        page.evaluate(
            """() => {
            const root = document.querySelector('#handsfree .handsfree');
            const log = document.querySelector('#handsfree-log');
            return {state: root.dataset.state || '', button: document.querySelector(
                '#handsfree-start').innerText.trim(), status: document.querySelector(
                '#handsfree-status').innerText, turns: log.dataset.turns || '0'};
        }"""
        )
    )


def handsfree_start(page: Any, timeout: float = 60) -> None:
    """Press Start conversation and wait until the page listens."""
    if handsfree(page)["button"] == "Stop":
        page.click("#handsfree-start")
    page.click("#handsfree-start")
    deadline = time.monotonic() + timeout
    while (hf := handsfree(page))["state"] != "listening":
        if hf["state"] == "error" or time.monotonic() > deadline:
            raise RuntimeError(f"hands-free did not start: {hf['status']!r}")
        time.sleep(0.05)


def handsfree_stop(page: Any) -> float:
    """Hang up if the conversation is still on; returns the page time of the press."""
    if handsfree(page)["button"] == "Stop":
        page.click("#handsfree-start")
        return last_click(page)
    return now(page)


# Press-to-talk and typed -----------------------------------------------------------------

MIC_BUTTON = "#mic button:visible"
RECORD = re.compile(r"^\s*Record\s*$")  # not the "Record audio" source button (an icon)
STOP = re.compile(r"^\s*Stop\s*$")


def mic_buttons(page: Any) -> list[str]:
    """The texts of the recorder's visible buttons."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('#mic button')]
              .filter((b) => b.offsetParent !== null)
              .map((b) => b.innerText.trim())"""
        )
    )


def press_record(page: Any, timeout: float = 20) -> None:
    """Press the recorder's Record button, clearing the last recording first if the page
    shows it instead (a clear control, "×", at its top right)."""
    deadline = time.monotonic() + timeout
    while True:
        labels = mic_buttons(page)
        if "Record" in labels:
            page.locator(MIC_BUTTON, has_text=RECORD).first.click()
            break
        clear = page.locator('#mic button[aria-label="Clear"], #mic button[title="Clear"]')
        if clear.count() and clear.first.is_visible():
            clear.first.click()
        elif time.monotonic() > deadline:
            raise RuntimeError(f"no Record button in the recorder: {labels}")
        time.sleep(0.1)
    while "Stop" not in mic_buttons(page):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the recorder did not start: {mic_buttons(page)}")
        time.sleep(0.02)


def press_stop(page: Any) -> float:
    """Press the recorder's Stop button; returns the page time of the click."""
    page.locator(MIC_BUTTON, has_text=STOP).first.click()
    return last_click(page)


def type_question(page: Any, text: str) -> float:
    """Type `text` and press Enter; returns the page time of the key press."""
    page.locator("#typed textarea").fill(text)
    page.locator("#typed textarea").press("Enter")
    return last_click(page)


def last_message(page: Any, role: str) -> str:
    """The text of the chat's last message from `role` ("user" or "bot")."""
    return str(
        page.evaluate(
            """(role) => {
            const rows = document.querySelectorAll('#chat .message-row.' + role + '-row');
            return rows.length ? rows[rows.length - 1].innerText.trim() : '';
        }""",
            role,
        )
    )


def status(page: Any) -> str:
    return str(page.locator("#status").inner_text())


def wait_done(page: Any, before: str, timeout: float = 120) -> str:
    """Wait until `#status` leaves `before` and then says Done; returns it."""
    deadline = time.monotonic() + timeout
    changed = False
    while True:
        text = status(page)
        changed = changed or text != before
        if changed and text.startswith("Done"):
            return text
        if "Error" in text or "No speech" in text:
            raise RuntimeError(f"the turn failed: {text!r}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the turn did not finish: {text!r}")
        time.sleep(0.05)
