"""The browser UI: a Gradio page on the same app and accounts as the REST API."""

from __future__ import annotations

import gradio as gr
from fastapi import FastAPI

from webapp.deps import AppState
from webapp.ui.auth import SigninRedirect, auth_dependency, router
from webapp.ui.page import CSS, build_blocks


def mount_ui(app: FastAPI, state: AppState) -> FastAPI:
    """Mount the page at / behind the sign-in; call after the API routes are added."""
    app.include_router(router)
    app.add_middleware(SigninRedirect, state=state)
    return gr.mount_gradio_app(
        app,
        build_blocks(state),
        path="/",
        auth_dependency=auth_dependency(state),
        footer_links=[],
        css=CSS,
        ssr_mode=False,
        max_file_size=f"{int(state.settings.max_upload_mb)}mb",
        show_error=False,
    )
