"""The Gradio page: hands-free conversation, microphone, upload, transcript, answer, history."""

from __future__ import annotations

import gradio as gr

from webapp.deps import AppState
from webapp.ui.handlers import (
    LANGUAGE_CHOICES,
    PERSONALITY_CHOICES,
    STAGES,
    UIController,
    timings_frame,
)
from webapp.ui.handsfree import add_handsfree_section
from webapp.ui.player import CSS as PLAYER_CSS
from webapp.ui.player import add_player

CSS = (
    """
#status { min-height: 2.2em; font-size: 1.05em; }
#title h1 { margin-bottom: 0; }
"""
    + PLAYER_CSS
)


def build_blocks(state: AppState) -> gr.Blocks:
    """The whole page; every action goes through `UIController` to the core agent."""
    ui = UIController(state)
    with gr.Blocks(title="Voice Agent", analytics_enabled=False) as demo:
        session_id = gr.State(None)
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
                add_handsfree_section()
                status = gr.Markdown(
                    "Press the microphone, speak, then press stop.", elem_id="status"
                )
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
                speech = add_player()
                timings = gr.Markdown("", elem_id="timings")
                plot = gr.BarPlot(
                    timings_frame([]),
                    x="turn",
                    y="ms",
                    color="stage",
                    color_map=dict(zip(STAGES, ("#2563eb", "#ea580c", "#16a34a"), strict=True)),
                    title="Timings per turn (ms)",
                    height=220,
                    elem_id="plot",
                    visible=False,
                )

        outputs = [status, chat, speech, timings, plot, session_id, sessions]
        demo.load(ui.load, None, [who, personality, custom_prompt, custom_prompt, lang, sessions])
        save.click(ui.save_settings, [personality, custom_prompt, lang], [status, custom_prompt])
        personality.change(lambda p: gr.update(visible=p == "custom"), personality, custom_prompt)
        mic.stop_recording(ui.audio_turn, [mic, session_id], outputs)
        mic.upload(ui.audio_turn, [mic, session_id], outputs)
        send.click(ui.text_turn, [typed, session_id], outputs).then(lambda: "", None, typed)
        typed.submit(ui.text_turn, [typed, session_id], outputs).then(lambda: "", None, typed)
        new.click(ui.open_session, [gr.State(None)], outputs)
        sessions.input(ui.open_session, [sessions], outputs)
    return demo
