"""Answers from a shared inference server that speaks OpenAI's chat API (vLLM, llama.cpp's
server, OpenAI itself), through the official `openai` SDK (the one chat-completions backend,
`core.llm.chat_completions`, with OpenAI's client)."""

from __future__ import annotations

from core.llm.chat_completions import ChatCompletionsLLM

OPENAI_API = "https://api.openai.com/v1"
# Self-hosted servers usually run without a key, but the SDK refuses to start without one.
_NO_KEY = "no-key"


class OpenAILLM(ChatCompletionsLLM):
    """Any OpenAI-compatible `/chat/completions`, streamed token by token."""

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
        # No SDK retries: a failed call falls back to the local model at once (see groq_client).
        client = openai.OpenAI(
            api_key=api_key or _NO_KEY,
            base_url=base_url or OPENAI_API,
            timeout=timeout,
            max_retries=0,
        )
        super().__init__(
            client=client,
            sdk=openai,
            service="OpenAI-compatible",
            name=f"openai:{model}",
            model=model,
            temperature=temperature,
            context_tokens=context_tokens,
            calls_tools=calls_tools,
        )
