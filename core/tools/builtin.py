"""The built-in tools (clock, calculator, goodbye, transfer, keypad) and the set each turn gets."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.tools import (
    EndConversation,
    JsonObject,
    Tool,
    ToolContext,
    ToolOutput,
    Toolset,
    TransferCall,
)
from core.tools.calculator import calculator_tool
from core.tools.clock import clock_tool

logger = logging.getLogger(__name__)

PHONE = "phone"
NO_ARGUMENTS: JsonObject = {"type": "object", "properties": {}}
MAX_KEYPAD_DIGITS = 20
KEYPAD_TIMEOUT_S = 15.0


async def _end(arguments: JsonObject, context: ToolContext) -> ToolOutput:
    return ToolOutput(
        content={"ending": True, "instruction": "Say a short goodbye to the user, nothing more."},
        action=EndConversation(),
    )


def end_tool() -> Tool:
    return Tool(
        name="end_conversation",
        description=(
            "End the conversation (hang up) when the user says goodbye or that they are done. "
            "Not for a plain thank-you in the middle of a conversation."
        ),
        parameters=NO_ARGUMENTS,
        run=_end,
        final=True,
    )


async def _transfer(arguments: JsonObject, context: ToolContext) -> ToolOutput:
    if not context.transfer_number:
        return ToolOutput(
            content={"error": "No person can take the call now: transfers are not set up."},
            ok=False,
        )
    return ToolOutput(
        content={
            "transferring": True,
            "instruction": "Tell the user in one short sentence that you are putting them "
            "through to a person now.",
        },
        action=TransferCall(context.transfer_number),
    )


def transfer_tool() -> Tool:
    return Tool(
        name="transfer_to_human",
        description=(
            "Put the caller through to a human agent, when they ask for a person, a human, an "
            "operator or a real agent."
        ),
        parameters=NO_ARGUMENTS,
        run=_transfer,
        final=True,
    )


async def _digits(arguments: JsonObject, context: ToolContext) -> ToolOutput:
    if context.keypad is None:
        return ToolOutput(content={"error": "This channel has no keypad."}, ok=False)
    wanted = arguments.get("max_digits")
    max_digits = wanted if isinstance(wanted, int) and 0 < wanted <= MAX_KEYPAD_DIGITS else 0
    digits = await context.keypad.read_digits(
        max_digits=max_digits or MAX_KEYPAD_DIGITS, timeout_s=KEYPAD_TIMEOUT_S
    )
    if not digits:
        return ToolOutput(content={"error": "No digits were typed."}, ok=False)
    return ToolOutput(content={"digits": digits})


def keypad_tool() -> Tool:
    return Tool(
        name="read_keypad",
        description=(
            "Let the caller type a number on their phone's keypad (an order number, a menu "
            "choice) and get the digits. Ask them to type it, ending with the pound key, "
            "before you call this."
        ),
        parameters={
            "type": "object",
            "properties": {
                "max_digits": {
                    "type": "integer",
                    "description": "How many digits to expect, if known.",
                }
            },
        },
        run=_digits,
        channels=frozenset({PHONE}),
        asks_user=True,
    )


def builtin_tools() -> list[Tool]:
    return [clock_tool(), calculator_tool(), end_tool(), transfer_tool(), keypad_tool()]


def toolset_for(
    tools: Sequence[Tool], *, channel: str, transfer_number: str | None, keypad: bool
) -> Toolset:
    """The tools offered on one turn of `channel`: the transfer only where a number is set up,
    the keypad only where there is one, and tools limited to other channels left out."""
    chosen: dict[str, Tool] = {}
    for tool in tools:
        if tool.channels is not None and channel not in tool.channels:
            continue
        if tool.name == "transfer_to_human" and not transfer_number:
            continue
        if tool.name == "read_keypad" and not keypad:
            continue
        chosen[tool.name] = tool
    return Toolset(chosen)
