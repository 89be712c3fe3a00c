"""llama.cpp's OpenAI-compatible server (`llama_cpp.server`) with the CPU backend chosen for this
CPU: `python -m core.llm.llama_server --model FILE.gguf ...` takes the server's own arguments.

scripts/install.sh builds llama.cpp's CPU backend once per x86-64 level, in the package's own
folder, where `python -m llama_cpp.server` alone does not look for them ("no backends are
loaded"); this registers the best one first, as the app does. The model's extra buffers are
chosen as the app chooses them (LLAMA_EXTRA_BUFFERS, checked in a child first: on a CPU with
AMX, llama.cpp's repacked weights can crash it, and `auto` then loads without them).

One default differs from llama.cpp's: `--interrupt_requests False`. Its server otherwise ends
the answer it is streaming whenever another request arrives (with `[DONE]`, no finish reason),
so app processes sharing it would cut each other's answers short; this way they queue. Pass
`--interrupt_requests True` to have llama.cpp's own behaviour.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> None:
    from core.config import Settings
    from core.llm.llama_cpp import model_params
    from core.llm.llama_runtime import register_backends
    from core.llm.llama_selftest import prepare

    register_backends()
    from llama_cpp.server.__main__ import main as serve

    model = argparse.ArgumentParser(add_help=False)
    model.add_argument("--model", type=Path)
    found, _ = model.parse_known_args()
    extra_buffers = False
    if found.model is not None and found.model.is_file():
        settings = Settings()
        runtime = prepare(
            found.model, setting=settings.llama_extra_buffers, cache_dir=settings.model_cache_dir
        )
        extra_buffers = runtime.extra_buffers.use
    sys.argv[0] = "llama_server"
    if not any(arg.startswith("--interrupt_requests") for arg in sys.argv):
        sys.argv += ["--interrupt_requests", "False"]
    with model_params(extra_buffers=extra_buffers):
        serve()


if __name__ == "__main__":
    main()
