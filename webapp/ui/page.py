"""The Gradio page: hands-free conversation, microphone, upload, transcript, answer, history."""

from __future__ import annotations

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


def build_blocks(state: AppState) -> gr.Blocks:
    """The whole page; every action goes through `UIController` to the core agent."""
    ui = UIController(state)
    with gr.Blocks(title="Voice Agent", analytics_enabled=False) as demo:
        session_id = gr.State(None)
        recordings = gr.State({})  # turn id -> the recording it was transcribed from
        clock = gr.Textbox(visible=False)  # filled in the browser, by WITH_CLOCK
        with gr.Row():
            gr.Markdown("# Voice Agent", elem_id="title")
            who = gr.Markdown("", elem_id="who")
        with gr.Row():
            with gr.Column(scale=1, min_width=260):
                personality = gr.Dropdown(
                    PERSONALITY_CHOICES, label="Personality", elem_id="personality"
                )
                custom_prompt = gr.Textbox(
                    label="Custom personality prompt",
                    lines=3,
                    visible=False,
                    elem_id="custom-prompt",
                )
                lang = gr.Dropdown(LANGUAGE_CHOICES, label="Language", elem_id="language")
                save = gr.Button("Save settings", size="sm")
                sessions = gr.Dropdown([], label="Earlier conversations", elem_id="sessions")
                new = gr.Button("New conversation", elem_id="new-session")
            with gr.Column(scale=3):
                handsfree = add_handsfree_section()
                # The session shown, for the hands-free section to talk in (hidden by CSS: a
                # component must be rendered for the script to read it).
                page_session = gr.Textbox(
                    elem_id="page-session", show_label=False, interactive=False, container=False
                )
                status = gr.Markdown(HOW_TO, elem_id="status")
                mic = gr.Audio(
                    sources=["microphone", "upload"],
                    type="filepath",
                    label="Speak or upload a recording",
                    elem_id="mic",
                )
                with gr.Row():
                    typed = gr.Textbox(
                        placeholder="...or type a message and press Enter",
                        show_label=False,
                        scale=4,
                        elem_id="typed",
                    )
                    send = gr.Button("Send", scale=1, elem_id="send")
                chat = gr.Chatbot(label="Conversation", height=360, elem_id="chat")
                player, speech = add_player()
                timings = gr.Markdown("", elem_id="timings")
                plot = gr.BarPlot(
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

        # The order of `View.out` (webapp/ui/view.py).
        outputs = [
            status,
            chat,
            speech,
            timings,
            plot,
            session_id,
            sessions,
            mic,
            recordings,
            page_session,
        ]
        demo.load(ui.load, None, [who, personality, custom_prompt, custom_prompt, lang, sessions])
        save.click(ui.save_settings, [personality, custom_prompt, lang], [status, custom_prompt])
        personality.change(lambda p: gr.update(visible=p == "custom"), personality, custom_prompt)
        # A second recording made while the first is answered waits for it ("multiple").
        audio_in = [mic, session_id, recordings, clock]
        text_in = [typed, session_id, recordings, clock]
        for event, handler, inputs in (
            (mic.stop_recording, ui.audio_turn, audio_in),
            (mic.upload, ui.audio_turn, audio_in),
            (send.click, ui.text_turn, text_in),
            (typed.submit, ui.text_turn, text_in),
        ):
            answered = event(handler, inputs, outputs, js=WITH_CLOCK, trigger_mode="multiple")
            if inputs is text_in:
                answered.then(lambda: "", None, typed)
        new.click(ui.open_session, [gr.State(None), recordings], outputs)
        sessions.input(ui.open_session, [sessions, recordings], outputs)
        # Updates from the browser's own work, shown without a progress overlay.
        handsfree.submit(
            ui.handsfree_turn,
            [recordings],
            outputs,
            trigger_mode="always_last",
            show_progress="hidden",
        )
        player.submit(
            ui.heard, [session_id], [timings, plot], trigger_mode="multiple", show_progress="hidden"
        )
    return demo
