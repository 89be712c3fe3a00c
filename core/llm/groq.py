"""Cloud answers with Llama 3 on Groq through the official `groq` SDK."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from core.concurrency import FairLock
from core.errors import ProviderError
from core.groq_client import GroqBreaker, make_client
from core.llm import ChatMessage, stream_chat_completion
from core.sdk_errors import provider_error
from core.tools import JsonObject, ToolCall

logger = logging.getLogger(__name__)


class GroqLLM:
    """Llama 3 (`llama-3.3-70b-versatile` by default) with token streaming."""

    is_local = False
    calls_tools = True  # the vendor's native `tools` API
    lock: FairLock | None = None  # calls run side by side, on the vendor's machines

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout: float = 8.0,
        temperature: float = 0.7,
        context_tokens: int = 32_768,
        breaker: GroqBreaker | None = None,
    ) -> None:
        self.name = f"groq:{model}"
        self.model = model
        self.breaker = breaker
        self.temperature = temperature
        self.context_tokens = context_tokens
        self.client = make_client(api_key=api_key, base_url=base_url, timeout=timeout)

    def count_tokens(self, text: str) -> int:
        # Llama 3's tokenizer averages about four characters a token on prose.
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
        import groq

        if self.breaker is not None:
            try:
                self.breaker.check(self.name)
            except ProviderError as exc:
                raise ProviderError(f"Groq chat {exc}") from exc
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
            self._failed(exc)
            raise provider_error(exc, groq, service="Groq", call="chat") from exc

    def _failed(self, exc: BaseException) -> None:
        if self.breaker is not None:
            self.breaker.failed(self.name, exc)
