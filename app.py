"""Start the voice agent: settings, models, and the channels side by side on one server.

The channels (the REST API and live WebSocket, the phone, the browser page) are wired here,
each over the same `core.service.Service`; none of them imports another.
"""

from __future__ import annotations

import faulthandler
import logging

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from core import tracing
from core.config import Settings
from core.errors import ModelMissingError
from core.providers import Providers
from core.service import open_service
from telephony import routes as phone
from telephony.outbound import TwilioDialer
from webapp import api
from webapp.deps import state_of

# The request line and headers of one request, in bytes. A megabyte "token" still reaches the
# app, which refuses it unparsed (401); a bigger header block is refused by uvicorn (400).
MAX_HEADER_BYTES = 2 * 1024 * 1024


def create_app(settings: Settings, *, providers: Providers | None = None) -> FastAPI:
    """The whole server; `providers` lets tests share loaded models between apps."""
    service = open_service(settings, providers, dialer=TwilioDialer.from_settings(settings))
    app = api.create_app(service)
    phone.install(app, service)
    if settings.ui_enabled:
        from webapp.ui import mount_ui  # Gradio is heavy: imported only when the UI is on

        # Last: the page is mounted at "/", behind every route above.
        app = mount_ui(app, state_of(app))
    return app


def main() -> None:
    # A native crash (SIGSEGV, SIGILL) in a model library prints where it happened, not just
    # "Segmentation fault"; the llama.cpp self-test at start catches the known ones earlier.
    faulthandler.enable()
    try:
        settings = Settings()
    except ValidationError as exc:
        wrong = "; ".join(
            f"{'.'.join(map(str, error['loc'])).upper()}: {error['msg']}" for error in exc.errors()
        )
        raise SystemExit(f"Cannot start, a setting is wrong: {wrong}.") from None
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    tracing.configure()  # OTLP traces of each turn, only when OTEL_EXPORTER_OTLP_ENDPOINT is set
    try:
        app = create_app(settings)
    except ModelMissingError as exc:
        # Before the server listens: a broken model stops the start, with what to reinstall
        # (or which setting to fix) in one paragraph instead of a traceback.
        raise SystemExit(f"Cannot start: {exc}") from None
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # h11, named so that installing httptools changes nothing: it holds at most
        # MAX_HEADER_BYTES of headers per connection, and refuses more with 400.
        http="h11",
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )


if __name__ == "__main__":
    main()
