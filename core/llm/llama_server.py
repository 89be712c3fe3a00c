"""llama.cpp's OpenAI-compatible server (`llama_cpp.server`) with the CPU backend chosen for this
CPU: `python -m core.llm.llama_server --model FILE.gguf ...` takes the server's own arguments.

scripts/install.sh builds llama.cpp's CPU backend once per x86-64 level, in the package's own
folder, where `python -m llama_cpp.server` alone does not look for them ("no backends are
loaded"); this registers the best one first, as the app does.
"""

from __future__ import annotations

import sys


def main() -> None:
    from core.llm.llama_runtime import register_backends

    register_backends()
    from llama_cpp.server.__main__ import main as serve

    sys.argv[0] = "llama_server"
    serve()


if __name__ == "__main__":
    main()
