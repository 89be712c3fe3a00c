"""Start the voice agent: settings, models, the API (and UI) on one server."""

from __future__ import annotations

import logging

import uvicorn
from pydantic import ValidationError

from core.config import Settings
from core.errors import ModelMissingError
from webapp.api import create_app


def main() -> None:
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
    try:
        app = create_app(settings)
    except ModelMissingError as exc:
        # Before the server listens: a broken model stops the start, with what to reinstall
        # (or which setting to fix) in one paragraph instead of a traceback.
        raise SystemExit(f"Cannot start: {exc}") from None
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
