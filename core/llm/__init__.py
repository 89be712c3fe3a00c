"""Language models: one streaming protocol, a backend per vendor, and the local fallback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from core.concurrency import FairLock


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


class LLM(Protocol):
    """Stream an answer token by token; blocking, so callers drive it off the event loop."""

    name: str
    is_local: bool

    @property
    def lock(self) -> FairLock | None:
        """One call at a time, in arrival order, behind this lock (`core.concurrency`)."""
        ...

    context_tokens: int

    def stream(self, messages: list[ChatMessage], *, max_tokens: int) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...

    def prefill(self, messages: list[ChatMessage]) -> bool:
        """Read `messages` into the model's cache before the answer is asked for, so the
        answer starts sooner; True if it did. Only a local model can; the others say False."""
        ...


def stream_chat_completion(
    client: Any,
    *,
    model: str,
    messages: list[ChatMessage],
    max_tokens: int,
    temperature: float,
) -> Iterator[str]:
    """The text of a streamed `chat.completions` call, piece by piece. The `groq` and `openai`
    SDKs share this call and its chunks; each backend turns the SDK's errors into the core's
    with `core.sdk_errors`."""
    payload: Any = [{"role": m.role, "content": m.content} for m in messages]
    stream = client.chat.completions.create(
        model=model,
        messages=payload,
        max_tokens=max_tokens,
        temperature=temperature,
        stream=True,
    )
    with stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content
