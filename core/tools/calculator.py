"""The `calculate` tool: arithmetic evaluated exactly and safely, never by `eval`."""

from __future__ import annotations

import ast
import logging
import math
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, localcontext

from core.tools import JsonObject, Tool, ToolContext, ToolOutput

logger = logging.getLogger(__name__)

Number = int | float

MAX_LENGTH = 200  # characters of the expression; a spoken question needs far fewer
MAX_DEPTH = 100  # syntax tree levels; a flat sum within MAX_LENGTH nests at most 100
MAX_DIGITS = 1000  # an integer result: far more than anyone says aloud, far below str()'s limit
MAX_BITS = math.ceil(MAX_DIGITS * math.log2(10))
SIGNIFICANT_DIGITS = 12  # a float result: hides binary noise (0.1 + 0.2 -> 0.3)

ALLOWED = "numbers, + - * / // % ** (or ^), parentheses, sqrt, abs, round, min, max, pi and e"


class CalculationError(ValueError):
    """The expression is not arithmetic this calculator evaluates; the message says why."""


# What people and language models write, rewritten into Python's arithmetic.
_SYMBOLS = {
    "×": "*",
    "✕": "*",
    "·": "*",
    "÷": "/",
    "−": "-",  # U+2212 minus sign
    "–": "-",  # en dash
    "^": "**",
    "²": "**2",
    "³": "**3",
    "π": "pi",
}
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])")
_PERCENT_OF = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*of\b", re.IGNORECASE)
_CALL = re.compile(r"[A-Za-z_]\w*\s*\(")

_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


def _normalise(expression: str) -> str:
    text = expression.strip().rstrip("=?").strip()
    for symbol, python in _SYMBOLS.items():
        text = text.replace(symbol, python)
    text = _PERCENT_OF.sub(r"(\1/100)*", text)
    # In a call the comma separates arguments (max(1,234)); elsewhere 1,000,000 is a number.
    if not _CALL.search(text):
        text = _THOUSANDS.sub(lambda match: match.group().replace(",", ""), text)
    return text


def _snippet(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_size(value: Number) -> Number:
    if isinstance(value, int):
        if value.bit_length() > MAX_BITS:
            raise CalculationError(f"the result has more than {MAX_DIGITS} digits")
    elif isinstance(value, complex):
        raise CalculationError("the result is not a real number")
    elif not math.isfinite(value):
        raise CalculationError("the result is too large")
    return value


def _divide(left: Number, right: Number) -> Number:
    if isinstance(left, int) and isinstance(right, int) and right and left % right == 0:
        return left // right  # exact, even beyond a float's 53 bits
    return left / right


def _power(base: Number, exponent: Number) -> Number:
    if base < 0 and isinstance(exponent, float) and not exponent.is_integer():
        raise CalculationError("a negative number to a fractional power is not a real number")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        # Refuse before computing: 9**9**9 would otherwise run for minutes.
        if exponent * math.log2(abs(base)) > MAX_BITS + 1:
            raise CalculationError(f"the result has more than {MAX_DIGITS} digits")
    return base**exponent


_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: _divide,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: _power,
}


def _arity(name: str, args: list[Number], low: int, high: int) -> None:
    if not low <= len(args) <= high:
        wanted = str(low) if low == high else f"{low} to {high}"
        raise CalculationError(f"{name}() takes {wanted} argument(s), got {len(args)}")


def _sqrt(args: list[Number]) -> Number:
    _arity("sqrt", args, 1, 1)
    (value,) = args
    if value < 0:
        raise CalculationError("the square root of a negative number is not a real number")
    if isinstance(value, int):
        root = math.isqrt(value)
        if root * root == value:
            return root
    return math.sqrt(value)


def _abs(args: list[Number]) -> Number:
    _arity("abs", args, 1, 1)
    return abs(args[0])


def _round(args: list[Number]) -> Number:
    """Half away from zero, on the number as written (round(2.675, 2) is 2.68), as people
    expect; Python's round() gives 2.67 (binary) and rounds 2.5 to 2 (half to even)."""
    _arity("round", args, 1, 2)
    value, digits = args[0], args[1] if len(args) == 2 else 0
    if not isinstance(digits, int) or not -MAX_DIGITS <= digits <= SIGNIFICANT_DIGITS:
        raise CalculationError(
            "round()'s second argument must be a whole number of decimals, "
            f"at most {SIGNIFICANT_DIGITS}"
        )
    if isinstance(value, int):
        if digits >= 0:
            return value
        step = 10**-digits
        return (1 if value >= 0 else -1) * ((abs(value) + step // 2) // step) * step
    with localcontext() as context:
        context.prec = 400  # room for every digit of the largest float
        rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    return int(rounded) if digits <= 0 else float(rounded)


def _min(args: list[Number]) -> Number:
    _arity("min", args, 1, 100)
    return min(args)


def _max(args: list[Number]) -> Number:
    _arity("max", args, 1, 100)
    return max(args)


_FUNCTIONS: dict[str, Callable[[list[Number]], Number]] = {
    "sqrt": _sqrt,
    "abs": _abs,
    "round": _round,
    "min": _min,
    "max": _max,
}


def _walk(node: ast.AST, depth: int) -> Number:
    if depth > MAX_DEPTH:
        raise CalculationError(f"the expression nests more than {MAX_DEPTH} levels deep")
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CalculationError(f"`{_snippet(node)}` is not a number; use {ALLOWED}")
        return _check_size(value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        operand = _walk(node.operand, depth + 1)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _walk(node.left, depth + 1)
        right = _walk(node.right, depth + 1)
        return _check_size(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.Name):
        if node.id.lower() in _CONSTANTS:
            return _CONSTANTS[node.id.lower()]
        if node.id.lower() in _FUNCTIONS:
            raise CalculationError(f"{node.id} is a function: write {node.id}(...)")
        raise CalculationError(f"unknown name `{node.id}`; use {ALLOWED}")
    if isinstance(node, ast.Call):
        return _call(node, depth)
    raise CalculationError(f"`{_snippet(node)}` is not allowed; use {ALLOWED}")


def _call(node: ast.Call, depth: int) -> Number:
    if isinstance(node.func, ast.Constant | ast.BinOp | ast.UnaryOp):
        raise CalculationError(f"write * to multiply: `{_snippet(node)}` is not a call")
    name = node.func.id.lower() if isinstance(node.func, ast.Name) else None
    if name is None or name not in _FUNCTIONS:
        raise CalculationError(
            f"unknown function `{_snippet(node.func)}`; only {', '.join(_FUNCTIONS)} are allowed"
        )
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        raise CalculationError(f"{name}() takes plain numbers, like {name}(2)")
    args = [_walk(arg, depth + 1) for arg in node.args]
    return _check_size(_FUNCTIONS[name](args))


def _tidy(value: Number) -> Number:
    if isinstance(value, int):
        return value
    rounded = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if rounded.is_integer() and abs(rounded) < 1e15:
        return int(rounded)  # 10 / 4 * 2 is 5, not 5.0
    return rounded


def _parse(text: str, expression: str) -> ast.Expression:
    """The syntax tree of `text`, an expression.

    CPython 3.11 shares the AST constructor's recursion counter between threads, so a parse
    that overlaps another thread's (a traceback being formatted parses its source line) can
    fail with "SystemError: AST constructor recursion depth mismatch"; that one is tried again.
    """
    for attempt in range(3):
        try:
            return ast.parse(text, mode="eval")
        except SystemError:
            if attempt == 2:
                raise CalculationError("the expression could not be read; try again") from None
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise CalculationError(f"`{expression}` is not an arithmetic expression") from exc
    raise AssertionError("unreachable")


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic `expression`, like "12 * 7" or "2^10".

    Whole-number results stay exact integers (up to MAX_DIGITS digits); other results are
    rounded to SIGNIFICANT_DIGITS significant digits. Raises `CalculationError`, with a message
    for the model, for anything else: names, attributes, strings, unknown functions, division
    by zero, results too large.
    """
    if len(expression) > MAX_LENGTH:
        raise CalculationError(f"the expression is longer than {MAX_LENGTH} characters")
    text = _normalise(expression)
    if not text:
        raise CalculationError("the expression is empty")
    tree = _parse(text, expression)
    if isinstance(tree.body, ast.Tuple):
        raise CalculationError("one expression only; write decimals with a dot, like 3.5")
    try:
        return _tidy(_walk(tree.body, 0))
    except ZeroDivisionError as exc:
        raise CalculationError("division by zero") from exc
    except OverflowError as exc:
        raise CalculationError("the result is too large") from exc
    except RecursionError as exc:
        raise CalculationError("the expression nests too deeply") from exc
    except CalculationError:
        raise
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise CalculationError(f"`{expression}` cannot be evaluated: {exc}") from exc


def calculator_tool() -> Tool:
    """The `calculate` tool: the model hands it arithmetic instead of guessing the result."""

    async def run(args: JsonObject, ctx: ToolContext) -> ToolOutput:
        expression = args.get("expression") if isinstance(args, dict) else None
        if not isinstance(expression, str):
            return ToolOutput(
                content={"error": 'pass the arithmetic as a string in "expression", like "12 * 7"'},
                ok=False,
            )
        try:
            result = evaluate(expression)
        except CalculationError as exc:
            logger.info("Calculation refused: %s", exc)
            return ToolOutput(content={"error": str(exc)}, ok=False)
        return ToolOutput(content={"expression": expression, "result": result})

    return Tool(
        name="calculate",
        description=(
            "Evaluate an arithmetic expression exactly (+ - * / ** % parentheses, sqrt, abs, "
            "round, min, max, pi). Use it for any arithmetic instead of computing in your head."
        ),
        parameters={
            "type": "object",
            "properties": {
                "expression": {
                    "type": "string",
                    "description": "The arithmetic to evaluate, e.g. (12.5 + 7) * 3 or sqrt(2)",
                }
            },
            "required": ["expression"],
        },
        run=run,
    )
