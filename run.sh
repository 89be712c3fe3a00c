#!/usr/bin/env bash
# Install (first time only) and start the voice agent on the bundled local models:
# the API at http://127.0.0.1:8000 (docs at /docs). Settings come from the environment or .env.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh runtime
exec .venv/bin/python app.py "$@"
