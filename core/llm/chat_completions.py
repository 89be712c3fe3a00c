"""One backend for every `/chat/completions` API: Groq's cloud (Llama 3, through the `groq`
SDK) and any OpenAI-compatible server (vLLM, llama.cpp's server, OpenAI itself, through the
`openai` SDK). The two vendors' SDKs speak the same protocol, so they differ here only in
their client, their name in errors and Groq's optional circuit breaker (`core.groq_client`):
`GroqLLM` and `OpenAILLM` (core/llm/groq.py, core/llm/openai.py) only build those.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

from core.concurrency import FairLock
from core.errors import ProviderError
from core.groq_client import GroqBreaker
from core.llm import ChatMessage, stream_chat_completion
from core.sdk_errors import provider_error
from core.tools import JsonObject, ToolCall


class ChatCompletionsLLM:
    """A chat-completions model streamed token by token; see the module's docstring."""

    is_local = False
    lock: FairLock | None = None  # calls run side by side, on the vendor's machines

    def __init__(
        self,
        *,
        client: Any,
        sdk: ModuleType,
        service: str,
        name: str,
        model: str,
        temperature: float,
        context_tokens: int,
        calls_tools: bool = True,  # the server's native `tools` API, or calls it passes as text
        breaker: GroqBreaker | None = None,
    ) -> None:
        self.client = client
        self._sdk = sdk  # whose exceptions `provider_error` reads
        self._service = service
        self.name = name
        self.model = model
        self.temperature = temperature
        self.context_tokens = context_tokens
        self.calls_tools = calls_tools
        self.breaker = breaker

    def count_tokens(self, text: str) -> int:
        # The server's tokenizer is unknown here; about four characters a token on prose
        # (Llama 3's averages that too).
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
        if self.breaker is not None:
            try:
                self.breaker.check(self.name)
            except ProviderError as exc:
                raise ProviderError(f"{self._service} chat {exc}") from exc
        try:
            yield from stream_chat_completion(
                self.client,
                model=self.model,
                messages=messages,
                max_tokens=max_tokens,
                temperature=self.temperature,
                tools=tools,
            )
        except Exception as exc:  # the SDK's errors, and httpx's when a stream breaks
            if self.breaker is not None:
                self.breaker.failed(self.name, exc)
            raise provider_error(exc, self._sdk, service=self._service, call="chat") from exc
