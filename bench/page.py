"""The browser page's spoken answers: how long after the first token the first audio plays.

    python -m bench.page               # 8 typed questions in one conversation
    python -m bench.page --turns 4

Starts the app (UI on), signs in with Debian's Chromium (as the UI tests do), types each
question and waits for the turn to be done, then reads the page's own "Last turn" line:
first token and first audio after the end of the input, and first audio after the first
token. A typed turn takes the page's press-to-talk path from the transcript on (the same
handler, the same speech). Target (issue 12): first audio within 0.8 s of the first token.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from bench.common import ADMIN, Check, Result, median, percentile, running_server, write_result

NAME = "page"
CHROMIUM = "/usr/bin/chromium"
TARGET_AFTER_TOKEN_S = 0.8
QUESTIONS = (
    "What is the capital of France?",
    "How many legs does a spider have?",
    "Which planet is the largest in our solar system?",
    "Tell me one fact about the moon.",
    "What is seven times eight?",
    "Why is the sky blue?",
    "Name three colours of the rainbow.",
    "What do bees make?",
)
_TIMINGS = re.compile(
    r"first token (?P<token>[\d.]+) s · first audio (?P<audio>[\d.]+) s "
    r"\((?P<after>[\d.]+) s after the first token\)"
)


def run(turns: int) -> Result:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit("Install Debian's chromium first (scripts/system-deps.sh does).")
    rows: list[dict[str, float]] = []
    with running_server(env={"UI_ENABLED": "true"}) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(server.base_url + "/")
        page.fill("#username", ADMIN[0])
        page.fill("#password", ADMIN[1])
        page.click("#signin")
        page.wait_for_selector("#typed", timeout=60_000)
        for i, question in enumerate((QUESTIONS * 2)[:turns]):
            before = page.locator("#timings").inner_text()
            page.locator("#typed textarea").fill(question)
            page.locator("#typed textarea").press("Enter")
            deadline = time.monotonic() + 120
            while True:
                status = page.locator("#status").inner_text()
                timings = page.locator("#timings").inner_text()
                if status.startswith("Done") and timings != before:
                    break
                if "Error" in status or time.monotonic() > deadline:
                    raise SystemExit(f"turn {i + 1} failed: {status!r}")
                time.sleep(0.05)
            found = _TIMINGS.search(timings)
            if found is None:
                print(f"{i + 1:2d} no spoken answer: {timings!r}")
                continue
            row = {k: float(v) for k, v in found.groupdict().items()}
            rows.append(row)
            print(
                f"{i + 1:2d} first token {row['token']:.2f} s, first audio {row['audio']:.2f} s"
                f" ({row['after']:.2f} s after the first token)  {question!r}",
                flush=True,
            )
        browser.close()
    after = [r["after"] for r in rows]
    figures = {
        "turns": len(rows),
        "after_first_token_p50_s": round(median(after), 3),
        "after_first_token_p95_s": round(percentile(after, 95), 3),
        "first_audio_p50_s": round(median([r["audio"] for r in rows]), 3),
        "first_token_p50_s": round(median([r["token"] for r in rows]), 3),
        "rows": rows,
    }
    print(
        f"\nfirst audio after the first token: p50 {figures['after_first_token_p50_s']:.3f} s,"
        f" p95 {figures['after_first_token_p95_s']:.3f} s over {len(rows)} spoken turns"
    )
    res = Result(NAME)
    res.checks.append(
        Check(
            "page: first audio after the first token, p95",
            figures["after_first_token_p95_s"],
            TARGET_AFTER_TOKEN_S,
            "s",
        )
    )
    res.figures = figures
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=8)
    write_result(run(parser.parse_args().turns))


if __name__ == "__main__":
    main()
