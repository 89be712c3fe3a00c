"""Language models: one streaming protocol, a backend per vendor, and the local fallback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from core.concurrency import FairLock
from core.llm.doubt import Unsure
from core.llm.tool_text import ToolCallText
from core.tools import JsonObject, ToolCall

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatMessage:
    """One message of a prompt. An assistant message may carry the tool calls it made; a
    `tool` message carries one call's result (JSON text), paired by `tool_call_id`."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


def wire_messages(messages: list[ChatMessage]) -> list[JsonObject]:
    """The messages in OpenAI's chat format (Groq's too): tool call arguments as JSON text."""
    wired: list[JsonObject] = []
    for m in messages:
        message: JsonObject = {"role": m.role, "content": m.content}
        if m.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json()},
                }
                for call in m.tool_calls
            ]
        if m.tool_call_id is not None:
            message["tool_call_id"] = m.tool_call_id
        wired.append(message)
    return wired


class LLM(Protocol):
    """Stream an answer token by token; blocking, so callers drive it off the event loop."""

    name: str
    is_local: bool
    calls_tools: bool  # offered tools, it may call them; else it ignores them

    @property
    def lock(self) -> FairLock | None:
        """One call at a time, in arrival order, behind this lock (`core.concurrency`)."""
        ...

    context_tokens: int

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        tools: list[JsonObject] | None = None,
    ) -> Iterator[str | ToolCall | Unsure]:
        """The answer's text piece by piece; with `tools` (OpenAI-style specs), the model may
        instead ask for calls, yielded as `ToolCall`s once each is complete. A model that
        scores its own answers says `Unsure` before words it doubts (core/llm/doubt.py)."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def prefill(self, messages: list[ChatMessage]) -> bool:
        """Read `messages` into the model's cache before the answer is asked for, so the
        answer starts sooner; True if it did. Only a local model can; the others say False."""
        ...


class UnfinishedAnswer(Exception):
    """A streamed answer ended without saying why (no `finish_reason`): the server stopped it.
    llama.cpp's server does so to a stream whenever another request arrives, unless it runs
    with `--interrupt_requests False`; the answer so far is not a whole answer."""


def stream_chat_completion(
    client: Any,
    *,
    model: str,
    messages: list[ChatMessage],
    max_tokens: int,
    temperature: float,
    tools: list[JsonObject] | None = None,
) -> Iterator[str | ToolCall]:
    """The text of a streamed `chat.completions` call, piece by piece, and the tool calls it
    makes (their pieces gathered by `index`, yielded whole at the end). The `groq` and `openai`
    SDKs share this call and its chunks; each backend turns the SDK's errors into the core's
    with `core.sdk_errors`."""
    extra: JsonObject = {"tools": tools, "tool_choice": "auto"} if tools else {}
    stream = client.chat.completions.create(
        model=model,
        messages=wire_messages(messages),
        max_tokens=max_tokens,
        temperature=temperature,
        stream=True,
        **extra,
    )
    calls: dict[int, _CallParts] = {}
    # A server that does not parse calls itself (llama.cpp's, vLLM without a tool parser) passes
    # on the call the model wrote as text: read it as a call, not as the answer.
    written = ToolCallText() if tools else None
    finished = False
    with stream:
        for chunk in stream:
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            finished = finished or choice.finish_reason is not None
            delta = choice.delta
            if delta.content:
                yield from written.feed(delta.content) if written else (delta.content,)
            for part in delta.tool_calls or ():
                gathered = calls.setdefault(part.index, _CallParts())
                gathered.add(part)
    if not finished:
        raise UnfinishedAnswer("the stream ended without a finish reason: the answer was cut")
    if written:
        yield from written.finish(unreadable_as_text=True)
    for index in sorted(calls):
        call = calls[index].call(index)
        if call is not None:
            yield call


@dataclass
class _CallParts:
    """One streamed tool call, as its chunks arrive: the id and name come first, the
    arguments' JSON text in pieces."""

    id: str = ""
    name: str = ""
    arguments: str = ""

    def add(self, part: Any) -> None:
        self.id = part.id or self.id
        if part.function is not None:
            self.name = part.function.name or self.name
            self.arguments += part.function.arguments or ""

    def call(self, index: int) -> ToolCall | None:
        arguments = parse_arguments(self.arguments)
        if not self.name or arguments is None:
            logger.warning("Dropped a malformed tool call from the model (%r)", self.name)
            return None
        return ToolCall(id=self.id or f"call_{index}", name=self.name, arguments=arguments)


def parse_arguments(text: str) -> JsonObject | None:
    """A tool call's arguments from JSON text: an object (empty text: no arguments), or None."""
    if not text.strip():
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
