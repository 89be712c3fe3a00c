#!/usr/bin/env bash
# Create .venv and install the pinned requirements (reinstalls only when they change).
# Usage: scripts/install.sh [runtime|dev]
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-runtime}
file=requirements.txt
[ "$kind" = dev ] && file=requirements-dev.txt

if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
stamp=".venv/.installed-$kind"
digest=$(cat requirements.txt "$file" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    echo "Installing $file into .venv (the first time builds llama-cpp-python: several minutes)..."
    .venv/bin/python -m pip install --disable-pip-version-check -q --upgrade pip
    .venv/bin/python -m pip install --disable-pip-version-check -q -r "$file"
    echo "$digest" > "$stamp"
fi
