"""Tool calls written as text by a local model, told apart from the answer while it streams.

Qwen2.5 opens a call with its `<tool_call>` token, which llama-cpp-python's text leaves out:
what arrives is `{"name": ..., "arguments": {...}}`. Measured on the bundled models, it also
writes `{{...}}` or a literal `<tools>`/`<tool_call>` tag around the JSON now and then. So an
answer that opens with `{` or with such a tag is a call: held, and read when the stream ends.
Any other answer streams on at once; a call written after some words ("Let me check.
<tool_call>...") has the words spoken and the call read.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

from core.tools import JsonObject, ToolCall

logger = logging.getLogger(__name__)

OPEN = "<tool_call>"
_OPENERS = ("{", "<tool_call>", "<tools>", "```json")
_TAGS = re.compile(r"</?tool_call>|</?tools>|```(?:json)?")


class ToolCallText:
    """Feed the model's text pieces; get back the answer's text, then (at `finish`) the calls."""

    def __init__(self) -> None:
        self._held = ""  # text that may still turn out to open a call
        self._call = ""  # a call's text, read at the end
        self._answering = False  # the answer is text: only a written OPEN tag can follow
        self.malformed = False  # a call was begun but could not be read

    @property
    def calling(self) -> bool:
        return bool(self._call)

    def feed(self, piece: str) -> Iterator[str]:
        if self._call:
            self._call += piece
            return
        text = self._held + piece
        self._held = ""
        if not self._answering:
            opening = text.lstrip()
            if not opening:
                self._held = text
                return
            if opening.startswith(_OPENERS):
                self._call = opening
                return
            if any(opener.startswith(opening) for opener in _OPENERS):
                self._held = text  # "<to": a tag, or "<" in an answer? the next piece tells
                return
            self._answering = True
        start = text.find(OPEN)
        if start >= 0:
            self._call = text[start:]
            if text[:start]:
                yield text[:start]
            return
        keep = _partial_tag(text)
        self._held = text[len(text) - keep :] if keep else ""
        if text[: len(text) - keep]:
            yield text[: len(text) - keep]

    def finish(self, *, unreadable_as_text: bool = False) -> Iterator[str | ToolCall]:
        """What is left: held text that opened no call after all, or the calls. A call that
        cannot be read sets `malformed`; with `unreadable_as_text` its text is the answer."""
        if not self._call:
            if self._held:
                yield self._held
            self._held = ""
            return
        calls = read_calls(self._call)
        if not calls:
            self.malformed = True
            logger.warning("The model wrote a tool call that cannot be read")
            if unreadable_as_text:
                yield self._call
        yield from calls


def read_calls(text: str) -> list[ToolCall]:
    """The calls in a model's call text: one or more JSON objects `{"name", "arguments"}`,
    with or without tags around them, doubled braces read as single ones. [] when any of
    them cannot be read."""
    body = _TAGS.sub("\n", text)
    decoder = json.JSONDecoder()
    calls: list[ToolCall] = []
    position = body.find("{")
    while position >= 0:
        while body.startswith("{{", position):
            position += 1
        try:
            data, position = decoder.raw_decode(body, position)
        except ValueError:
            return []
        call = _call(data, len(calls))
        if call is None:
            return []
        calls.append(call)
        position = body.find("{", position)
    return calls


def _call(data: object, number: int) -> ToolCall | None:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):  # some models write the arguments as JSON text
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return ToolCall(id=f"call_{number}", name=data["name"], arguments=arguments)


def _partial_tag(text: str) -> int:
    """How many characters at the end of `text` could begin OPEN."""
    for size in range(min(len(OPEN) - 1, len(text)), 0, -1):
        if OPEN.startswith(text[-size:]):
            return size
    return 0


NO_TOOL = "answer_directly"  # the grammar's way out: no tool fits after all


def call_schema(tools: list[JsonObject]) -> JsonObject:
    """A JSON schema that only a valid call of one of `tools` meets, or the name NO_TOOL: the
    grammar a local model writes a call under once it has chosen to call."""
    options: list[JsonObject] = [
        {
            "type": "object",
            "properties": {"name": {"const": NO_TOOL}},
            "required": ["name"],
        }
    ]
    for spec in tools:
        function = spec["function"]
        options.append(
            {
                "type": "object",
                "properties": {
                    "name": {"const": function["name"]},
                    "arguments": function.get("parameters") or {"type": "object"},
                },
                "required": ["name", "arguments"],
            }
        )
    return {"anyOf": options}
