"""The README's screenshots, taken from the real page: docs/images/ui.png and handsfree.png.

Rerun it whenever the page (webapp/ui/) changes, from the repository root (40 s on 2 cores):

    .venv/bin/python scripts/screenshots.py

It starts the app with the UI on the default local models (bench/common.py), opens the page in
Debian's Chromium with a microphone it speaks Piper speech into (bench/browser_driver.py), and
signs in. Then a press-to-talk turn (Record, "What is the capital of France?", Stop) and a
hands-free one ("How many legs does a spider have?"). Each picture is taken once its answer has
played and the page shows it in full; an answer that is wrong ("Paris", "eight" missing) or a
page that never gets there fails the script, and the images are written only when both pass.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `bench` and `tests` are packages of the repository root

from bench import browser_driver as drv  # noqa: E402
from bench import browser_scenarios as sc  # noqa: E402
from bench.common import register, running_server, speech_pcm16  # noqa: E402

logger = logging.getLogger("screenshots")

IMAGES = REPO / "docs" / "images"
USER = ("admin", "screenshot-password-1")  # the name the README's first start creates
PRESS_TO_TALK = ("What is the capital of France?", re.compile(r"\bParis\b"))
HANDS_FREE = ("How many legs does a spider have?", re.compile(r"\b(eight|8)\b", re.IGNORECASE))
SHOWN_TIMEOUT_MS = 60_000

# The page in full: the chat holds `bots` answers, the last timings line has its first audio,
# and the chart has drawn its bars.
SHOWN = """(bots) => {
  const rows = document.querySelectorAll('#chat .message-row.bot-row');
  const timings = document.querySelector('#timings');
  const plot = document.querySelector('#plot');
  return rows.length === bots && timings && /first audio \\d/.test(timings.innerText)
    && plot && plot.offsetParent !== null && plot.querySelector('canvas, svg') !== null;
}"""


def check(what: str, text: str, right: re.Pattern[str]) -> None:
    """Stop the script, images untouched, when `text` is not the right answer."""
    if not right.search(text):
        raise SystemExit(f"{what}: wrong answer {text!r} (expected {right.pattern!r})")
    logger.info("%s: %r", what, text)


def shown(page: Any, bots: int) -> None:
    """Wait until the page shows the turn in full, and a moment for the chart to settle."""
    page.wait_for_function(SHOWN, arg=bots, timeout=SHOWN_TIMEOUT_MS)
    time.sleep(1.0)


def press_to_talk(page: Any, pcm: bytes) -> bytes:
    """Record, speak, Stop; the picture once the answer has played."""
    before = drv.status(page)
    drv.press_record(page)
    said = drv.say(page, pcm, lead_ms=300)
    drv.wait_until(page, said.voiced_to + sc.STOP_AFTER_S * 1000)
    drv.press_stop(page)
    if failed := sc.wait_played(page, before):
        raise SystemExit(f"press-to-talk: {failed}")
    check("press-to-talk", drv.last_message(page, "bot"), PRESS_TO_TALK[1])
    shown(page, bots=1)
    return bytes(page.screenshot(full_page=True))


def hands_free(page: Any, pcm: bytes) -> bytes:
    """Start conversation, speak; the picture once the answer has played and the page listens
    again, and the conversation view shows the turn."""
    drv.handsfree_start(page)
    turns = int(drv.handsfree(page)["turns"])
    said = drv.say(page, pcm, lead_ms=500)
    if failed := sc.wait_answer(page, turns, said):
        raise SystemExit(f"hands-free: {failed}")
    log = page.locator("#handsfree-log .handsfree-line").all_inner_texts()
    check("hands-free", log[-1] if log else "", HANDS_FREE[1])
    shown(page, bots=2)
    check("conversation view", drv.last_message(page, "bot"), HANDS_FREE[1])
    if (state := drv.handsfree(page)["state"]) != "listening":
        raise SystemExit(f"hands-free: the page is {state!r}, not listening again")
    picture = bytes(page.screenshot(full_page=True))
    drv.handsfree_stop(page)
    return picture


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    speech = speech_pcm16([PRESS_TO_TALK[0], HANDS_FREE[0]], drv.RATE)
    with running_server(env={"UI_ENABLED": "true"}) as server:
        register(server.base_url, *USER)
        with drv.signed_in_page(server.base_url, USER) as page:
            pictures = {"ui.png": press_to_talk(page, speech[0])}
            pictures["handsfree.png"] = hands_free(page, speech[1])
    for name, png in pictures.items():
        (IMAGES / name).write_bytes(png)
        logger.info("wrote %s", (IMAGES / name).relative_to(REPO))


if __name__ == "__main__":
    main()
