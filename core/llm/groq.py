"""Cloud answers with Llama 3 on Groq through the official `groq` SDK (the one chat-completions
backend, `core.llm.chat_completions`, with Groq's client and breaker)."""

from __future__ import annotations

from core.groq_client import GroqBreaker, make_client
from core.llm.chat_completions import ChatCompletionsLLM


class GroqLLM(ChatCompletionsLLM):
    """Llama 3 (`llama-3.3-70b-versatile` by default) with token streaming."""

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
        import groq

        super().__init__(
            client=make_client(api_key=api_key, base_url=base_url, timeout=timeout),
            sdk=groq,
            service="Groq",
            name=f"groq:{model}",
            model=model,
            temperature=temperature,
            context_tokens=context_tokens,
            breaker=breaker,
        )
