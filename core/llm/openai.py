"""Answers from a shared inference server that speaks OpenAI's chat API (vLLM, llama.cpp's
server, OpenAI itself), through the official `openai` SDK."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from core.concurrency import FairLock
from core.llm import ChatMessage, stream_chat_completion
from core.sdk_errors import provider_error
from core.tools import JsonObject, ToolCall

logger = logging.getLogger(__name__)

OPENAI_API = "https://api.openai.com/v1"
# Self-hosted servers usually run without a key, but the SDK refuses to start without one.
_NO_KEY = "no-key"


class OpenAILLM:
    """Any OpenAI-compatible `/chat/completions`, streamed token by token."""

    is_local = False
    lock: FairLock | None = None  # calls run side by side, on the vendor's machines

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 8.0,
        temperature: float = 0.7,
        context_tokens: int = 8192,
        calls_tools: bool = True,  # the server's native `tools` API, or calls it passes as text
    ) -> None:
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - dependency hint
            raise ImportError("Install the OpenAI SDK: pip install openai") from exc
        self.name = f"openai:{model}"
        self.calls_tools = calls_tools
        self.model = model
        self.temperature = temperature
        self.context_tokens = context_tokens
        # No SDK retries: a failed call falls back to the local model at once (see groq_client).
        self.client = openai.OpenAI(
            api_key=api_key or _NO_KEY,
            base_url=base_url or OPENAI_API,
            timeout=timeout,
            max_retries=0,
        )

    def count_tokens(self, text: str) -> int:
        # The server's tokenizer is unknown here; about four characters a token on prose.
        return max(1, len(text) // 4)

    def prefill(self, messages: list[ChatMessage]) -> bool:
        return False  # a cloud model keeps no cache between requests that we can fill

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        tools: list[JsonObject] | None = None,
    ) -> Iterator[str | ToolCall]:
        import openai

        try:
            yield from stream_chat_completion(
                self.client,
                model=self.model,
                messages=messages,
                max_tokens=max_tokens,
                temperature=self.temperature,
                tools=tools,
            )
        except Exception as exc:  # the SDK's errors, and the HTTP client's when a stream breaks
            raise provider_error(exc, openai, service="OpenAI-compatible", call="chat") from exc
