"""Local answers with llama.cpp on the bundled Qwen2.5 0.5B instruct GGUF (or any GGUF)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from core.concurrency import FairLock
from core.errors import ProviderError
from core.llm import ChatMessage

logger = logging.getLogger(__name__)


class LlamaCppLLM:
    """One llama.cpp model shared by every request; generations take turns in arrival order."""

    is_local = True

    def __init__(
        self,
        model_path: Path,
        *,
        context_tokens: int = 4096,
        threads: int = 2,
        temperature: float = 0.7,
        name: str | None = None,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - dependency hint
            raise ImportError("Install llama-cpp-python: pip install llama-cpp-python") from exc
        self.name = name or f"local:{model_path.stem}"
        self.context_tokens = context_tokens
        self.temperature = temperature
        self.lock = FairLock()
        self.model = Llama(
            model_path=str(model_path),
            n_ctx=context_tokens,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(self, messages: list[ChatMessage], *, max_tokens: int) -> Iterator[str]:
        with self.lock:
            try:
                payload: Any = [{"role": m.role, "content": m.content} for m in messages]
                chunks = self.model.create_chat_completion(
                    messages=payload,
                    max_tokens=max_tokens,
                    temperature=self.temperature,
                    stream=True,
                )
                for chunk in cast(Iterator[dict[str, Any]], chunks):
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        yield str(delta)
            except GeneratorExit:
                raise
            except Exception as exc:
                logger.exception("llama.cpp generation failed")
                raise ProviderError(f"Local LLM failed: {exc}") from exc
