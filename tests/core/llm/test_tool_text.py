"""Tool calls written as text by a local model, told apart from the answer as it streams."""

from __future__ import annotations

from core.llm.tool_text import ToolCallText
from core.tools import ToolCall


def run(pieces: list[str]) -> tuple[str, list[ToolCall], ToolCallText]:
    reader = ToolCallText()
    text = ""
    calls: list[ToolCall] = []
    for piece in pieces:
        text += "".join(reader.feed(piece))
    for out in reader.finish():
        if isinstance(out, ToolCall):
            calls.append(out)
        else:
            text += out
    return text, calls, reader


def test_plain_answers_pass_through_whole() -> None:
    text, calls, _ = run(["The capital", " of France is", " Paris."])
    assert (text, calls) == ("The capital of France is Paris.", [])


def test_a_less_than_sign_that_is_no_tag_is_kept() -> None:
    text, calls, _ = run(["3 <", " 5 and 2 <t", "o 4 <"])
    assert (text, calls) == ("3 < 5 and 2 <to 4 <", [])


def test_a_call_split_across_pieces_is_read_and_never_spoken() -> None:
    pieces = [
        "<tool",
        "_call>\n",
        '{"name": "calculate", "argu',
        'ments": {"expression": "17*23"}}',
        "\n</tool_call>",
    ]
    spoken = []
    reader = ToolCallText()
    for piece in pieces:
        spoken += list(reader.feed(piece))
    assert spoken == []
    assert list(reader.finish()) == [
        ToolCall(id="call_0", name="calculate", arguments={"expression": "17*23"})
    ]


def test_words_before_a_call_are_spoken_and_two_calls_are_read() -> None:
    text, calls, _ = run(
        [
            "Let me check. <tool_call>\n",
            '{"name": "current_time", "arguments": {}}\n</tool_call>\n<tool_call>\n',
            '{"name": "calculate", "arguments": "{\\"expression\\": \\"2+2\\"}"}\n</tool_call>',
        ]
    )
    assert text == "Let me check. "
    assert [(c.name, c.arguments) for c in calls] == [
        ("current_time", {}),
        ("calculate", {"expression": "2+2"}),
    ]
    assert [c.id for c in calls] == ["call_0", "call_1"]


def test_a_call_cut_off_before_its_closing_tag_is_still_read() -> None:
    _, calls, _ = run(['<tool_call>\n{"name": "end_conversation", "arguments": {}}'])
    assert [c.name for c in calls] == ["end_conversation"]


def test_a_malformed_call_is_dropped_and_said_so() -> None:
    text, calls, reader = run(["<tool_call>\n{name: calculate}\n</tool_call>"])
    assert (text, calls, reader.malformed) == ("", [], True)
    _, calls, reader = run(['<tool_call>{"arguments": {}}</tool_call>'])
    assert (calls, reader.malformed) == ([], True)
    _, calls, reader = run(['<tool_call>{"name": "x", "arguments": [1]}</tool_call>'])
    assert (calls, reader.malformed) == ([], True)
