"""Tools in a turn: which are offered, running the calls the model makes, and the prompt that
carries their results back to it."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from core import personalities
from core.config import Settings
from core.llm import LLM, ChatMessage
from core.phrases import Line, say
from core.prompting import Prompts
from core.results import ToolFinished, ToolStarted
from core.tools import (
    Action,
    EndConversation,
    JsonObject,
    Tool,
    ToolCall,
    ToolContext,
    ToolResult,
    Toolset,
    TransferCall,
    run_call,
)
from core.tools.builtin import builtin_tools, toolset_for

logger = logging.getLogger(__name__)

# Rounds of calls in one turn before the model must answer with what it has: a small model
# that calls the same tool again and again cannot hold the line.
MAX_TOOL_ROUNDS = 3
TOOL_GUIDANCE = (
    "You can call tools. Call one whenever it fits, in any language: the current time, date "
    'or day (current_time); any sum or product (calculate); a goodbye such as "bye", '
    '"au revoir", "adiós", "tschüss" or "ciao" (end_conversation); a wish to speak '
    "to a person or a human (transfer_to_human); orders or the weather, when such tools are "
    "offered. Never guess what a tool can tell you. For anything else, answer directly "
    "without a tool."
)
# Qwen2.5's template wraps the tools' JSON in about 100 tokens of instructions.
_TEMPLATE_TOKENS = 120


@dataclass(frozen=True)
class Tools:
    """Every tool this server has: the built-in ones and those of TOOLS_FILE."""

    tools: Sequence[Tool]
    transfer_number: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Tools:
        if not settings.tools_enabled:
            return cls((), None)
        tools = builtin_tools()
        if settings.tools_file is not None:
            from core.tools.http import load_http_tools

            tools += load_http_tools(settings.tools_file, default_timeout_s=settings.tool_timeout_s)
        names = [tool.name for tool in tools]
        if len(set(names)) != len(names):
            raise ValueError(f"TOOLS_FILE names a tool that is built in: {sorted(names)}")
        return cls(tuple(tools), settings.transfer_number)

    def offered(self, *, channel: str, keypad: bool) -> Toolset:
        return toolset_for(
            self.tools, channel=channel, transfer_number=self.transfer_number, keypad=keypad
        )

    def tokens(self, toolset: Toolset, prompts: Prompts) -> int:
        """About how many prompt tokens offering `toolset` takes (the chat template's words
        around the tools' JSON included)."""
        if not toolset:
            return 0
        return prompts.tokens(json.dumps(toolset.specs())) + _TEMPLATE_TOKENS


class ToolTurn:
    """The tools of one turn: what the model is offered, what it called, what came back."""

    def __init__(
        self,
        toolset: Toolset,
        context: ToolContext,
        *,
        timeout_s: float,
        action_threshold: float = 0.0,
    ) -> None:
        self.toolset = toolset
        self.context = context
        self.timeout_s = timeout_s
        self.action_threshold = action_threshold
        self.results: list[ToolResult] = []
        self.rounds = 0

    def prompt(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        """`messages` with the system prompt told when to use the tools (small models guess
        the time or the sum instead, unless told not to)."""
        if not self.toolset or not messages or messages[0].role != "system":
            return messages
        system = messages[0]
        guided = ChatMessage(role="system", content=f"{system.content}\n\n{TOOL_GUIDANCE}")
        return [guided, *messages[1:]]

    def specs(self) -> list[JsonObject] | None:
        """The tools to offer the model on the next round (none once it has had its rounds, or
        once the conversation is ending)."""
        if not self.toolset or self.rounds >= MAX_TOOL_ROUNDS or self.action is not None:
            return None
        return self.toolset.specs()

    @property
    def action(self) -> Action | None:
        """The first action a call asked for (hang up, transfer): the channel's to carry out."""
        for result in self.results:
            if result.output.action is not None:
                return result.output.action
        return None

    def fresh(self, calls: list[ToolCall]) -> list[ToolCall]:
        """`calls` but those made before with the same arguments, and those that would end the
        conversation on a local model's hunch (weight below `action_threshold`). When nothing
        is left the model gets no more tools, and answers in words with what it has."""
        made = {(r.call.name, r.call.arguments_json()) for r in self.results}
        new = [c for c in calls if (c.name, c.arguments_json()) not in made and not self._unsure(c)]
        if not new:
            self.rounds = MAX_TOOL_ROUNDS
        return new

    def _unsure(self, call: ToolCall) -> bool:
        tool = self.toolset.get(call.name)
        unsure = (
            tool is not None
            and tool.final
            and call.weight is not None
            and call.weight < self.action_threshold
        )
        if unsure:
            logger.info("Not calling %s on a weight of %.2f", call.name, call.weight)
        return unsure

    async def run(self, calls: list[ToolCall]) -> AsyncIterator[ToolStarted | ToolFinished]:
        self.rounds += 1
        for call in calls:
            tool = self.toolset.get(call.name)
            yield ToolStarted(call=call, filler=tool is None or not tool.asks_user)
            result = await run_call(self.toolset, call, self.context, timeout_s=self.timeout_s)
            logger.info(
                "Tool %s: %s in %.0f ms",
                call.name,
                "ok" if result.output.ok else "failed",
                result.ms,
            )
            self.results.append(result)
            yield ToolFinished(result)

    def follow_up(
        self, messages: list[ChatMessage], said: str, calls: list[ToolCall]
    ) -> list[ChatMessage]:
        """The prompt for the next round: the model's calls (after what it said first) and
        their results."""
        done = {result.call.id: result for result in self.results}
        return [
            *messages,
            ChatMessage(role="assistant", content=said, tool_calls=tuple(calls)),
            *(
                ChatMessage(role="tool", content=done[call.id].content_json(), tool_call_id=call.id)
                for call in calls
            ),
        ]

    def closing_words(self, answer: str) -> str:
        """Words to add when a call ends or hands over the conversation and the model said
        nothing: the caller must not be cut off in silence."""
        if answer.strip():
            return ""
        language = self.context.language
        if isinstance(self.action, EndConversation):
            return say(Line.GOODBYE, language)
        if isinstance(self.action, TransferCall):
            return say(Line.TRANSFER, language)
        return ""

    def records(self) -> list[JsonObject] | None:
        return [result.as_record() for result in self.results] or None


def warm_tools(llm: LLM, tools: Tools, settings: Settings) -> None:
    """Read the default system prompt with the tools a live conversation offers, so the first
    turn finds them in the cache (about 500 tokens), and let a local model find the tokens
    that open a call (`core.llm.tool_choice`); an optimisation, so a failure is only logged."""
    specs = tools.offered(channel="ws", keypad=False).specs()
    if not specs or not llm.calls_tools:
        return
    system = personalities.system_prompt(
        settings.default_personality, custom_prompt=None, language=settings.default_language
    )
    guided = [ChatMessage("system", f"{system}\n\n{TOOL_GUIDANCE}")]
    try:
        for _ in llm.stream(guided, max_tokens=1, tools=specs):
            pass
    except Exception:
        logger.warning("Reading the tools ahead failed", exc_info=True)
