"""The page's player for press-to-talk answers: each piece plays as it arrives, in the browser.

Gradio's own streaming audio output would need the `ffmpeg` program (it re-encodes to AAC and
serves HLS segments) and adds a segment of delay. Instead, the handler appends each piece of
PCM to a hidden textbox (`speech_feed`), and a small script plays the new pieces with the same
`PcmPlayer` as the hands-free mode.

The feed also carries when the person stopped speaking, by the browser's own clock
(static/page_clock.js): when the answer starts playing, the player reports how long after the
stop that was (`trigger("submit", {turn_id, heard_ms})` on its gr.HTML), which is the turn's
first audio as the person heard it.
"""

from __future__ import annotations

import base64
from functools import cache

import gradio as gr

from webapp.ui.handsfree import STATIC

SCRIPTS = ("handsfree_audio.js", "page_clock.js", "page_player.js")

# No backticks, `${` or `{{` (see webapp/ui/handsfree.py).
TEMPLATE = """
<div class="spoken" data-state="idle">
  <span id="spoken-status" role="status" aria-live="polite"></span>
  <button id="spoken-stop" type="button" disabled>Stop speaking</button>
</div>
"""

STYLE = """
.spoken { display: flex; align-items: center; gap: 1em; }
#spoken-status::before { content: ""; display: inline-block; width: .7em; height: .7em;
  border-radius: 50%; margin-right: .45em; background: #9ca3af; vertical-align: baseline; }
.spoken[data-state=speaking] #spoken-status::before { background: #ea580c; }
#spoken-stop { padding: .3em .9em; border-radius: 6px; border: 1px solid #d1d5db; }
"""

# Hides the feed (a Gradio component must be rendered for its `change` to reach the page).
CSS = "#speech-feed { display: none !important; }"


@cache
def script() -> str:
    sources = [(STATIC / name).read_text(encoding="utf-8") for name in SCRIPTS]
    start = "setupPageClock();\nsetupPagePlayer(element.querySelector('.spoken'), trigger);"
    return "\n".join([*sources, start, ""])


def add_player() -> tuple[gr.HTML, gr.Textbox]:
    """Add the player to the current Blocks; returns it (whose `submit` is the player's report
    of a first audio heard) and the feed the handlers write to."""
    player = gr.HTML(
        html_template=TEMPLATE, css_template=STYLE, js_on_load=script(), elem_id="spoken"
    )
    feed = gr.Textbox(elem_id="speech-feed", show_label=False, interactive=False, container=False)
    feed.change(None, [feed], None, js="(feed) => { window.voiceAgentSpeak(feed); }")
    return player, feed


def feed_start(turn_id: int, sample_rate: int, stopped_at: float | None) -> str:
    """The feed of a new answer (`stopped_at`: the browser's clock at the end of speech, if it
    sent one); `feed_piece` adds each piece of it."""
    return f"{turn_id};{sample_rate};{'' if stopped_at is None else stopped_at}"


def feed_piece(pcm: bytes) -> str:
    """What a piece of 16-bit mono PCM adds to the feed."""
    return ";" + base64.b64encode(pcm).decode("ascii")
