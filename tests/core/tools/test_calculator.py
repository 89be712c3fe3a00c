"""The calculator: exact arithmetic as people and models write it, and nothing but arithmetic."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from core.tools import JsonObject, ToolContext, ToolOutput
from core.tools.calculator import MAX_LENGTH, CalculationError, calculator_tool, evaluate

CONTEXT = ToolContext(
    user_id=1,
    username="ada",
    session_id="s1",
    channel="web",
    language="en",
    time_zone="UTC",
)


def run_tool(args: JsonObject) -> ToolOutput:
    return asyncio.run(calculator_tool().run(args, CONTEXT))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("12 * 7", 84),
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 - 4 - 3", 3),
        ("-2 ** 2", -4),
        ("2 ** 3 ** 2", 512),
        ("2^10", 1024),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("17 % 5", 2),
        ("3 × 4 ÷ 2", 6),
        ("5 − 8", -3),
        ("3²", 9),
        ("1,000,000 + 1", 1_000_001),
        ("1,250.5 * 2", 2501),
        ("15% of 80", 12),
        ("12 * 7 =", 84),
        ("sqrt(16)", 4),
        ("sqrt(10**100)", 10**50),
        ("abs(-3)", 3),
        ("round(2.5)", 3),
        ("round(-2.5)", -3),
        ("round(2.675, 2)", 2.68),
        ("round(1234, -2)", 1200),
        ("min(3, 1, 2)", 1),
        ("max(1,234)", 234),
        ("2 ** -1", 0.5),
    ],
)
def test_evaluates_arithmetic(expression: str, expected: int | float) -> None:
    result = evaluate(expression)
    assert result == expected
    assert type(result) is type(expected)


def test_whole_numbers_stay_exact_integers() -> None:
    assert evaluate("2 ** 100") == 1267650600228229401496703205376
    assert evaluate("10**30 / 10**10") == 10**20
    assert evaluate("3 ** 2000") == 3**2000  # 955 digits: within the cap
    assert evaluate("10 / 4 * 2") == 5
    assert type(evaluate("10 / 4 * 2")) is int


def test_floats_are_rounded_to_twelve_significant_digits() -> None:
    assert evaluate("0.1 + 0.2") == 0.3
    assert evaluate("2 / 3") == 0.666666666667
    assert evaluate("sqrt(2)") == 1.41421356237
    assert evaluate("2 * pi") == 6.28318530718
    assert evaluate("e") == 2.71828182846
    assert evaluate("1e-20") == 1e-20


@pytest.mark.parametrize("expression", ["1 / 0", "5 % 0", "1 // 0", "0 ** -1", "1.5 / 0.0"])
def test_division_by_zero_is_refused(expression: str) -> None:
    with pytest.raises(CalculationError, match="^division by zero$"):
        evaluate(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "unknown function `__import__`"),
        ("os", "unknown name `os`"),
        ("os.system('ls')", "unknown function `os.system`"),
        ("().__class__", "`().__class__` is not allowed"),
        ("(1).real", "`1 .real` is not allowed"),
        ("open('x')", "unknown function `open`"),
        ("'a' * 3", "`'a'` is not a number"),
        ("lambda: 1", "`lambda: 1` is not allowed"),
        ("[x for x in range(3)]", "is not allowed"),
        ("1 if 1 else 2", "is not allowed"),
        ("1 < 2", "`1 < 2` is not allowed"),
        ("1 << 10", "`1 << 10` is not allowed"),
        ("True + 1", "`True` is not a number"),
        ("1j", "`1j` is not a number"),
        ("sqrt", "sqrt is a function"),
        ("sqrt(x=4)", "sqrt() takes plain numbers"),
        ("abs(1, 2)", "abs() takes 1 argument"),
        ("min()", "min() takes 1 to 100 argument"),
        ("round(1.5, 0.5)", "whole number of decimals"),
        ("sqrt(-1)", "square root of a negative number"),
        ("(-8) ** (1/3)", "negative number to a fractional power"),
        ("2(3 + 4)", "write * to multiply"),
        ("3,5 + 1", "write decimals with a dot"),
        ("12 *", "is not an arithmetic expression"),
        ("", "empty"),
        ("1e999", "too large"),
        ("1e308 * 10", "too large"),
        ("2.0 ** 5000", "too large"),
        ("10**400 / 3", "too large"),
        ("(10**999) * (10**999)", "more than 1000 digits"),
    ],
)
def test_refuses_what_is_not_arithmetic(expression: str, message: str) -> None:
    with pytest.raises(CalculationError, match=re.escape(message)):
        evaluate(expression)


@pytest.mark.parametrize("expression", ["9**9**9", "2 ** 10**12", "(9**1000)**1000"])
def test_huge_powers_are_refused_before_computing(expression: str) -> None:
    started = time.perf_counter()
    with pytest.raises(CalculationError, match="more than 1000 digits"):
        evaluate(expression)
    # Computing any of these would take minutes or exhaust memory.
    assert time.perf_counter() - started < 1.0


def test_refuses_long_and_deeply_nested_expressions() -> None:
    with pytest.raises(CalculationError, match=f"longer than {MAX_LENGTH} characters"):
        evaluate("1+" * 100 + "1")  # 201 characters
    with pytest.raises(CalculationError, match="nests more than 100 levels"):
        evaluate("-" * 150 + "1")
    assert evaluate("1+" * 99 + "1") == 100  # the longest flat sum still passes


def test_the_tool_answers_with_the_result() -> None:
    output = run_tool({"expression": "(12.5 + 7) * 3"})
    assert output.ok
    assert output.content == {"expression": "(12.5 + 7) * 3", "result": 58.5}
    assert output.action is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, 'pass the arithmetic as a string in "expression"'),
        ({"expression": 42}, 'pass the arithmetic as a string in "expression"'),
        ({"expression": ["1 + 1"]}, 'pass the arithmetic as a string in "expression"'),
        ({"expression": None}, 'pass the arithmetic as a string in "expression"'),
        ({"expression": "1 / 0"}, "division by zero"),
        ({"expression": "__import__('os').system('ls')"}, "unknown function"),
        ({"expression": "9**9**9"}, "more than 1000 digits"),
    ],
)
def test_the_tool_reports_failures_as_data(args: JsonObject, message: str) -> None:
    output = run_tool(args)
    assert not output.ok
    assert list(output.content) == ["error"]
    assert message in output.content["error"]


def test_the_tool_describes_itself_to_the_model() -> None:
    function = calculator_tool().spec()["function"]
    assert function["name"] == "calculate"
    assert "arithmetic" in function["description"]
    parameters = function["parameters"]
    assert parameters["required"] == ["expression"]
    assert parameters["properties"]["expression"]["type"] == "string"


def test_a_parse_upset_by_another_thread_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """CPython 3.11's shared AST recursion counter: a parse overlapping another thread's can
    fail with SystemError. The calculator reads the expression again; only a parse that keeps
    failing becomes a CalculationError."""
    import ast

    parse = ast.parse
    failures = iter([True, False])

    def flaky(*args: object, **kwargs: object) -> ast.AST:
        if next(failures, False):
            raise SystemError("AST constructor recursion depth mismatch (before=66, after=81)")
        return parse(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ast, "parse", flaky)
    assert evaluate("6 * 7") == 42

    def broken(*args: object, **kwargs: object) -> ast.AST:
        raise SystemError("AST constructor recursion depth mismatch (before=66, after=81)")

    monkeypatch.setattr(ast, "parse", broken)
    with pytest.raises(CalculationError, match="could not be read"):
        evaluate("6 * 7")
