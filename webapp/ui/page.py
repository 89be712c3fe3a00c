"""The Gradio page: hands-free conversation, microphone, upload, transcript, answer, history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from webapp.deps import AppState
from webapp.ui.handlers import HOW_TO, LANGUAGE_CHOICES, PERSONALITY_CHOICES, UIController
from webapp.ui.handsfree import add_handsfree_section
from webapp.ui.player import CSS as PLAYER_CSS
from webapp.ui.player import add_player
from webapp.ui.timings import COLOURS, STAGES, timings_frame

CSS = (
    """
#status { min-height: 2.2em; font-size: 1.05em; }
#title h1 { margin-bottom: 0; }
#page-session { display: none !important; }
"""
    + PLAYER_CSS
)

# A turn's event sends the page's clock along (static/page_clock.js): its last input.
WITH_CLOCK = (
    "(...inputs) => [...inputs.slice(0, -1), "
    "window.voiceAgentClock ? window.voiceAgentClock.take() : '']"
)


@dataclass
class Page:
    """The page's components, as the layout makes them and the events wire them."""

    session_id: gr.State
    recordings: gr.State  # turn id -> the recording it was transcribed from
    clock: gr.Textbox  # filled in the browser, by WITH_CLOCK
    who: gr.Markdown
    personality: gr.Dropdown
    custom_prompt: gr.Textbox
    lang: gr.Dropdown
    save: gr.Button
    sessions: gr.Dropdown
    new: gr.Button
    handsfree: gr.HTML
    page_session: gr.Textbox
    status: gr.Markdown
    mic: gr.Audio
    typed: gr.Textbox
    send: gr.Button
    chat: gr.Chatbot
    player: gr.HTML
    speech: gr.Textbox
    timings: gr.Markdown
    plot: gr.BarPlot

    def outputs(self) -> list[gr.components.Component]:
        """What every turn's handler updates, in the order of `View.out` (webapp/ui/view.py)."""
        return [
            self.status,
            self.chat,
            self.speech,
            self.timings,
            self.plot,
            self.session_id,
            self.sessions,
            self.mic,
            self.recordings,
            self.page_session,
        ]


def build_blocks(state: AppState) -> gr.Blocks:
    """The whole page; every action goes through `UIController` to the core agent."""
    with gr.Blocks(title="Voice Agent", analytics_enabled=False) as demo:
        page = _layout()
        _wire(demo, page, UIController(state))
    return demo


def _layout() -> Page:
    parts: dict[str, Any] = {
        "session_id": gr.State(None),
        "recordings": gr.State({}),
        "clock": gr.Textbox(visible=False),
    }
    with gr.Row():
        gr.Markdown("# Voice Agent", elem_id="title")
        parts["who"] = gr.Markdown("", elem_id="who")
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            parts |= _settings_column()
        with gr.Column(scale=3):
            parts |= _talk_column()
    return Page(**parts)


def _settings_column() -> dict[str, Any]:
    personality = gr.Dropdown(PERSONALITY_CHOICES, label="Personality", elem_id="personality")
    custom_prompt = gr.Textbox(
        label="Custom personality prompt", lines=3, visible=False, elem_id="custom-prompt"
    )
    return {
        "personality": personality,
        "custom_prompt": custom_prompt,
        "lang": gr.Dropdown(LANGUAGE_CHOICES, label="Language", elem_id="language"),
        "save": gr.Button("Save settings", size="sm"),
        "sessions": gr.Dropdown([], label="Earlier conversations", elem_id="sessions"),
        "new": gr.Button("New conversation", elem_id="new-session"),
    }


def _talk_column() -> dict[str, Any]:
    parts: dict[str, Any] = {"handsfree": add_handsfree_section()}
    # The session shown, for the hands-free section to talk in (hidden by CSS: a component
    # must be rendered for the script to read it).
    parts["page_session"] = gr.Textbox(
        elem_id="page-session", show_label=False, interactive=False, container=False
    )
    parts["status"] = gr.Markdown(HOW_TO, elem_id="status")
    parts["mic"] = gr.Audio(
        sources=["microphone", "upload"],
        type="filepath",
        label="Speak or upload a recording",
        elem_id="mic",
    )
    with gr.Row():
        parts["typed"] = gr.Textbox(
            placeholder="...or type a message and press Enter",
            show_label=False,
            scale=4,
            elem_id="typed",
        )
        parts["send"] = gr.Button("Send", scale=1, elem_id="send")
    parts["chat"] = gr.Chatbot(label="Conversation", height=360, elem_id="chat")
    parts["player"], parts["speech"] = add_player()
    parts["timings"] = gr.Markdown("", elem_id="timings")
    parts["plot"] = gr.BarPlot(
        timings_frame([]),
        x="turn",
        y="ms",
        color="stage",
        color_map=dict(zip(STAGES, COLOURS, strict=True)),
        colors_in_legend=list(STAGES),
        title="From the end of speech, per turn (ms)",
        height=220,
        elem_id="plot",
        visible=False,
    )
    return parts


def _wire(demo: gr.Blocks, page: Page, ui: UIController) -> None:
    p, outputs = page, page.outputs()
    demo.load(
        ui.load, None, [p.who, p.personality, p.custom_prompt, p.custom_prompt, p.lang, p.sessions]
    )
    save_in = [p.personality, p.custom_prompt, p.lang]
    p.save.click(ui.save_settings, save_in, [p.status, p.custom_prompt])
    p.personality.change(
        lambda choice: gr.update(visible=choice == "custom"), p.personality, p.custom_prompt
    )
    # A second recording made while the first is answered waits for it ("multiple").
    audio_in = [p.mic, p.session_id, p.recordings, p.clock]
    text_in = [p.typed, p.session_id, p.recordings, p.clock]
    for event, handler, inputs in (
        (p.mic.stop_recording, ui.audio_turn, audio_in),
        (p.mic.upload, ui.audio_turn, audio_in),
        (p.send.click, ui.text_turn, text_in),
        (p.typed.submit, ui.text_turn, text_in),
    ):
        # No progress overlay: the status line says what happens ("Thinking...",
        # "Speaking..."), and the overlay's animation on ten outputs took the cores from the
        # model on a machine that runs both (see webapp/ui/speech.py).
        answered = event(
            handler,
            inputs,
            outputs,
            js=WITH_CLOCK,
            trigger_mode="multiple",
            show_progress="hidden",
        )
        if inputs is text_in:
            answered.then(lambda: "", None, p.typed)
    p.new.click(ui.open_session, [gr.State(None), p.recordings], outputs)
    p.sessions.input(ui.open_session, [p.sessions, p.recordings], outputs)
    # Updates from the browser's own work, shown without a progress overlay.
    p.handsfree.submit(
        ui.handsfree_turn,
        [p.recordings],
        outputs,
        trigger_mode="always_last",
        show_progress="hidden",
    )
    p.player.submit(
        ui.heard,
        [p.session_id],
        [p.timings, p.plot],
        trigger_mode="multiple",
        show_progress="hidden",
    )
