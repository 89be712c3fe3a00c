"""The loopback Groq calls tools in the vendors' wire format: the real `groq` and `openai` SDKs
read its calls back, streamed in pieces or whole, and its answer after a tool's result."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.groq_server import (  # noqa: F401
    API_KEY,
    CHAT,
    LLM_MODEL,
    TOOL_ANSWER,
    FakeGroq,
    groq_server_fixture,
    split_arguments,
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "calculate",
            "description": "Evaluate arithmetic.",
            "parameters": {
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "required": ["expression"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "current_time",
            "description": "The date and time now.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
]
QUESTION = [{"role": "user", "content": "What's 17 times 23?"}]
ARGUMENTS = {"expression": "17 * 23"}


@pytest.fixture(params=["groq", "openai"])
def client(request: pytest.FixtureRequest, groq_server: FakeGroq) -> Iterator[Any]:
    """Each SDK, pointed at the loopback server the way the agent points it."""
    if request.param == "groq":
        import groq

        sdk: Any = groq.Groq(api_key=API_KEY, base_url=groq_server.url, max_retries=0)
    else:
        import openai

        sdk = openai.OpenAI(api_key=API_KEY, base_url=f"{groq_server.url}/openai/v1", max_retries=0)
    with sdk:
        yield sdk


@pytest.fixture
def calling(groq_server: FakeGroq) -> list[tuple[list[dict], list[dict]]]:
    """Script the server to call `calculate` on every request that offers tools; return what
    the script was given."""
    given: list[tuple[list[dict], list[dict]]] = []

    def script(messages: list[dict], tools: list[dict]) -> list[dict]:
        given.append((messages, tools))
        return [{"name": "calculate", "arguments": ARGUMENTS}]

    groq_server.tool_calls = script
    return given


def test_a_streamed_call_is_reassembled_from_its_pieces(client, groq_server, calling):
    stream = client.chat.completions.create(
        model=LLM_MODEL, messages=QUESTION, tools=TOOLS, stream=True
    )
    chunks = list(stream)

    opening = chunks[0].choices[0].delta
    assert opening.role == "assistant" and opening.content is None
    (first,) = opening.tool_calls
    assert (first.index, first.type, first.function.name, first.function.arguments) == (
        0,
        "function",
        "calculate",
        "",
    )
    assert first.id.startswith("call_")
    pieces = [
        c.choices[0].delta.tool_calls[0].function.arguments
        for c in chunks[1:]
        if c.choices[0].delta.tool_calls
    ]
    assert len(pieces) == 3  # the arguments come in pieces, as OpenAI sends them
    assert json.loads("".join(pieces)) == ARGUMENTS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert all(c.choices[0].delta.content is None for c in chunks)
    ((messages, tools),) = calling
    assert messages == QUESTION and tools == TOOLS
    (seen,) = groq_server.requests
    assert (seen.path, seen.stream, seen.authorized) == (CHAT, True, True)
    assert seen.offered_tools and seen.tools == ("calculate", "current_time")
    assert seen.tool_calls == ("calculate",) and not seen.tool_result


def test_a_whole_answer_carries_the_call_in_its_message(client, groq_server, calling):
    completion = client.chat.completions.create(model=LLM_MODEL, messages=QUESTION, tools=TOOLS)

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert (call.type, call.function.name) == ("function", "calculate")
    assert json.loads(call.function.arguments) == ARGUMENTS
    assert groq_server.requests[0].stream is False


@pytest.mark.parametrize("stream", [True, False])
def test_the_tool_result_comes_back_in_the_text_answer(client, groq_server, calling, stream):
    result = json.dumps({"expression": "17 * 23", "result": 391})
    messages = [
        *QUESTION,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "calculate", "arguments": json.dumps(ARGUMENTS)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": result},
    ]

    answer = client.chat.completions.create(
        model=LLM_MODEL, messages=messages, tools=TOOLS, stream=stream
    )

    if stream:
        chunks = list(answer)
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert not any(c.choices[0].delta.tool_calls for c in chunks)
    else:
        text = answer.choices[0].message.content
        assert answer.choices[0].finish_reason == "stop"
    assert text == TOOL_ANSWER.format(result)
    assert calling == []  # a result coming back is answered, never scripted into another call
    (seen,) = groq_server.requests
    assert seen.tool_result and seen.tool_calls == ()


def test_a_request_without_tools_gets_the_text_answer(client, groq_server, calling):
    completion = client.chat.completions.create(model=LLM_MODEL, messages=QUESTION)

    assert completion.choices[0].message.content == groq_server.answer
    assert calling == []
    (seen,) = groq_server.requests
    assert not seen.offered_tools and seen.tool_calls == ()


def test_a_script_that_returns_none_answers_in_text(client, groq_server):
    groq_server.tool_calls = lambda messages, tools: None

    stream = client.chat.completions.create(
        model=LLM_MODEL, messages=QUESTION, tools=TOOLS, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream)

    assert text == groq_server.answer
    (seen,) = groq_server.requests
    assert seen.offered_tools and seen.tool_calls == ()


def test_two_calls_stream_with_their_own_indexes(client, groq_server):
    groq_server.tool_calls = lambda messages, tools: [
        {"name": "current_time", "arguments": {}},
        {"name": "calculate", "arguments": ARGUMENTS},
    ]

    stream = client.chat.completions.create(
        model=LLM_MODEL, messages=QUESTION, tools=TOOLS, stream=True
    )
    names: dict[int, str] = {}
    arguments: dict[int, str] = {}
    for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or []:
            if call.function.name:
                names[call.index] = call.function.name
            arguments[call.index] = arguments.get(call.index, "") + (call.function.arguments or "")

    assert names == {0: "current_time", 1: "calculate"}
    assert {i: json.loads(a) for i, a in arguments.items()} == {0: {}, 1: ARGUMENTS}


def test_arguments_split_anywhere_rejoin_exactly():
    text = json.dumps({"city": "Zürich", "days": 3})

    assert len(split_arguments(text)) == 3 and "".join(split_arguments(text)) == text
    assert split_arguments("{}") == ["{}"]
