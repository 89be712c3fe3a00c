"""Write the voice agent's OpenAPI document to examples/nextjs/openapi.json, from `create_app`.

Run from anywhere with the project's Python, no server needed:
    .venv/bin/python examples/nextjs/scripts/dump_openapi.py
The app is built on a throwaway data folder with the local models (they load in ~15 s);
`npm run gen:api` then turns the document into TypeScript.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent
REPO = EXAMPLE.parent.parent
sys.path.insert(0, str(REPO))  # run as a file, so the project's packages are not on the path

from app import create_app  # noqa: E402
from core.config import LocalLLM, Settings  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            _env_file=None,
            data_dir=Path(data_dir),
            database_url=None,  # SQLite in the throwaway folder, whatever the environment says
            admin_password=secrets.token_urlsafe(16),
            ui_enabled=False,
            stt_provider="local",
            llm_provider="local",
            local_llm=LocalLLM.QWEN_05B,  # the faster to load; the document is the same
        )
        document = create_app(settings).openapi()
    out = EXAMPLE / "openapi.json"
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stderr.write(f"Wrote {out}\n")


if __name__ == "__main__":
    main()
