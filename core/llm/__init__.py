"""Language models: one streaming protocol, a backend per vendor, and the local fallback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


class LLM(Protocol):
    """Stream an answer token by token; blocking, so callers drive it off the event loop."""

    name: str
    is_local: bool
    context_tokens: int

    def stream(self, messages: list[ChatMessage], *, max_tokens: int) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...
