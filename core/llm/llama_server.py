"""llama.cpp's OpenAI-compatible server (`llama_cpp.server`) with the CPU backend chosen for this
CPU: `python -m core.llm.llama_server --model FILE.gguf ...` takes the server's own arguments.

scripts/install.sh builds llama.cpp's CPU backend once per x86-64 level, in the package's own
folder, where `python -m llama_cpp.server` alone does not look for them ("no backends are
loaded"); this registers the best one first, as the app does.

One default differs from llama.cpp's: `--interrupt_requests False`. Its server otherwise ends
the answer it is streaming whenever another request arrives (with `[DONE]`, no finish reason),
so app processes sharing it would cut each other's answers short; this way they queue. Pass
`--interrupt_requests True` to have llama.cpp's own behaviour.
"""

from __future__ import annotations

import sys


def main() -> None:
    from core.llm.llama_runtime import register_backends

    register_backends()
    from llama_cpp.server.__main__ import main as serve

    sys.argv[0] = "llama_server"
    if not any(arg.startswith("--interrupt_requests") for arg in sys.argv):
        sys.argv += ["--interrupt_requests", "False"]
    serve()


if __name__ == "__main__":
    main()
