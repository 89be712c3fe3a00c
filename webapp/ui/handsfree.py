"""The UI's hands-free conversation: a browser client of `WS /ws/conversation` in one gr.HTML."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import gradio as gr

STATIC = Path(__file__).with_name("static")
# Concatenated into one `js_on_load` body: the audio helpers first, then the client using them.
SCRIPTS = ("handsfree_audio.js", "handsfree.js")

# Gradio renders the template through Handlebars and then as a JavaScript template literal, so
# it must hold no backticks, no `${` and no `{{`. The script fills the status and the log.
TEMPLATE = """
<section class="handsfree" aria-labelledby="handsfree-title">
  <h3 id="handsfree-title">Hands-free conversation</h3>
  <div class="handsfree-bar">
    <button id="handsfree-start" type="button">Start conversation</button>
    <span id="handsfree-status" role="status" aria-live="polite"></span>
  </div>
  <div id="handsfree-log" aria-live="polite" aria-label="Conversation transcript"></div>
</section>
"""

# Scoped to the component by Gradio.
STYLE = """
.handsfree h3 { margin: 0 0 .6em; }
.handsfree-bar { display: flex; align-items: center; gap: 1em; flex-wrap: wrap; }
#handsfree-start { padding: .55em 1.3em; font-size: 1em; border: 0; border-radius: 8px;
  background: #ea580c; color: white; cursor: pointer; min-width: 12em; }
#handsfree-start.handsfree-running { background: #b91c1c; }
#handsfree-status { color: var(--body-text-color-subdued); }
#handsfree-status::before { content: ""; display: inline-block; width: .7em; height: .7em;
  border-radius: 50%; margin-right: .45em; background: #9ca3af; vertical-align: baseline; }
.handsfree[data-state=listening] #handsfree-status::before { background: #16a34a; }
.handsfree[data-state=hearing] #handsfree-status::before { background: #2563eb; }
.handsfree[data-state=thinking] #handsfree-status::before,
.handsfree[data-state=queued] #handsfree-status::before { background: #ca8a04; }
.handsfree[data-state=speaking] #handsfree-status::before { background: #ea580c; }
#handsfree-status.handsfree-error { color: #b91c1c; }
#handsfree-status.handsfree-error::before { background: #b91c1c; }
#handsfree-log { margin-top: .8em; max-height: 16em; min-height: 3em; overflow-y: auto;
  padding: .5em .7em; border: 1px solid var(--border-color-primary); border-radius: 8px; }
#handsfree-log:empty::after { content: "The conversation will appear here.";
  color: var(--body-text-color-subdued); }
.handsfree-line { margin: .25em 0; }
.handsfree-tentative { opacity: .6; font-style: italic; }
.handsfree-unheard { color: var(--body-text-color-subdued); text-decoration: line-through; }
.handsfree-note { color: var(--body-text-color-subdued); }
"""


@cache
def script() -> str:
    """The `js_on_load` body: the client in static/, started on the section's element."""
    sources = [(STATIC / name).read_text(encoding="utf-8") for name in SCRIPTS]
    start = "setupHandsfree(element.querySelector('.handsfree'), trigger);"
    return "\n".join([*sources, start, ""])


def add_handsfree_section() -> gr.HTML:
    """Add the hands-free section (start/stop, status, live transcript) to the current Blocks.

    The browser talks to `WS /ws/conversation` directly, authenticated by the sign-in cookie,
    in the session the page shows. Once a turn is stored, the section's `submit` event (data:
    `session_id`, `turn_id`, `interrupted`) asks the page to show it in its Conversation view.
    """
    return gr.HTML(
        html_template=TEMPLATE,
        css_template=STYLE,
        js_on_load=script(),
        elem_id="handsfree",
        container=True,
        padding=True,
    )


@dataclass(frozen=True)
class StoredTurn:
    """The section's word that a turn of its conversation is stored (its `submit` event):
    `interrupted` when its answer was cut short, whose heard part is stored a moment later."""

    session_id: str
    turn_id: int | None  # None: stopped before the answer's id was known
    interrupted: bool

    @classmethod
    def parse(cls, data: object) -> StoredTurn | None:
        """The event's data as handsfree.js sends it, or None for anything else."""
        if not isinstance(data, dict):
            return None
        session_id, turn_id = data.get("session_id"), data.get("turn_id")
        if not isinstance(session_id, str) or not session_id:
            return None
        if isinstance(turn_id, bool) or not (turn_id is None or isinstance(turn_id, int)):
            return None
        return cls(session_id, turn_id, data.get("interrupted") is True)
