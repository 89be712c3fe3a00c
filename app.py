"""Start the voice agent: settings, models, the API (and UI) on one server."""

from __future__ import annotations

import logging

import uvicorn

from core.config import Settings
from webapp.api import create_app

MAX_HEADER_BYTES = 16 * 1024


def main() -> None:
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # h11, named so that installing httptools changes nothing: request headers over 16 KB
        # (a megabyte "token") are refused with 400 before the app reads them.
        http="h11",
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )


if __name__ == "__main__":
    main()
