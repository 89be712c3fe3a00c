"""Tools the agent can call mid-answer: a name, a description, a JSON schema for the
arguments and an async function; one mechanism for every channel and every language model.

A tool returns a `ToolOutput`: what the model reads back (`content`, JSON-serialisable), and
optionally an `Action` for the channel (end the conversation, transfer the call). Channel
abilities a tool needs (the phone's keypad) come in through `ToolContext`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """The model asked for `name` with `arguments`; `id` pairs it with its result."""

    id: str
    name: str
    arguments: JsonObject
    # How sure a local model was that a call was due (`core.llm.tool_choice`); None: a cloud
    # model's call, which it makes through its own API.
    weight: float | None = None

    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class EndConversation:
    """Say goodbye, then hang up (phone) or end the hands-free session."""

    kind: Literal["end"] = "end"


@dataclass(frozen=True)
class TransferCall:
    """Hand the caller to a person at `number` once the agent has said so."""

    number: str
    kind: Literal["transfer"] = "transfer"


Action = EndConversation | TransferCall


@dataclass(frozen=True)
class ToolOutput:
    """What a tool gave back: `content` for the model, `ok` False for a failure the model
    should apologise for, and an `action` for the channel."""

    content: Any
    ok: bool = True
    action: Action | None = None


@dataclass(frozen=True)
class ToolResult:
    """One finished call, as stored with the turn and shown in `GET /sessions/{id}`."""

    call: ToolCall
    output: ToolOutput
    ms: float

    def content_json(self) -> str:
        return json.dumps(self.output.content, ensure_ascii=False, separators=(",", ":"))

    def as_record(self) -> JsonObject:
        record: JsonObject = {
            "name": self.call.name,
            "arguments": self.call.arguments,
            "result": self.output.content,
            "ok": self.output.ok,
            "ms": self.ms,
        }
        if self.output.action is not None:
            record["action"] = self.output.action.kind
        return record


class Keypad(Protocol):
    """A channel's keypad (the phone's DTMF): digits typed by the user."""

    async def read_digits(self, *, max_digits: int, timeout_s: float) -> str:
        """Digits typed until `#`, `max_digits` of them, or `timeout_s` of silence."""
        ...


@dataclass(frozen=True)
class ToolContext:
    """Who calls and where from: what a tool may need besides its arguments."""

    user_id: int
    username: str
    session_id: str
    channel: str
    language: str
    time_zone: str
    keypad: Keypad | None = None
    transfer_number: str | None = None


ToolFunction = Callable[[JsonObject, ToolContext], Awaitable[ToolOutput]]


@dataclass(frozen=True)
class Tool:
    """A tool the model can call. `channels`, when given, limits it to those channels (the
    transfer only makes sense on the phone)."""

    name: str
    description: str
    parameters: JsonObject
    run: ToolFunction
    channels: frozenset[str] | None = None
    asks_user: bool = False  # waits for the user (the keypad): no filler while it runs
    # Ends or hands over the conversation: a local model must be surer to call it
    # (LLM_ACTION_THRESHOLD), since a wrong call cuts the user off.
    final: bool = False

    def spec(self) -> JsonObject:
        """The OpenAI/Groq `tools` entry (also what Qwen's chat template reads)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True)
class Toolset:
    """The tools offered on one turn, by name."""

    tools: Mapping[str, Tool] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.tools)

    def specs(self) -> list[JsonObject]:
        return [tool.spec() for tool in self.tools.values()]

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)


async def run_call(
    toolset: Toolset, call: ToolCall, context: ToolContext, *, timeout_s: float
) -> ToolResult:
    """Run one call: an unknown tool, bad arguments, a failure or a timeout become a result
    the model reads (ok False) and apologises for; the conversation goes on either way."""
    start = time.perf_counter()
    tool = toolset.get(call.name)
    if tool is None:
        output = ToolOutput(content={"error": f"There is no tool named {call.name!r}."}, ok=False)
    else:
        try:
            output = await asyncio.wait_for(tool.run(call.arguments, context), timeout_s)
        except TimeoutError:
            logger.warning("Tool %s took longer than %.1f s", call.name, timeout_s)
            output = ToolOutput(
                content={"error": f"{call.name} did not finish within {timeout_s:g} s."}, ok=False
            )
        except Exception:
            logger.exception("Tool %s failed", call.name)
            output = ToolOutput(content={"error": f"{call.name} failed."}, ok=False)
    return ToolResult(call=call, output=output, ms=round((time.perf_counter() - start) * 1000, 1))
