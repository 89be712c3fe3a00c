"""Read an arithmetic question ("Elf mal sechs?", "what is 15 % of 80", "how much is a 15 %
tip on 42 euros") and compute it with the safe calculator.

The reading is deliberately narrow: the message must be one expression (numbers joined by
operators, a percentage of a number, a square root, a power) and nothing else but the words
such a question is asked with (lexicon.py). One word outside them ("legs", "born", "Paris")
and the message is left to the model, so a question that merely holds numbers never gets a
computed fact it did not ask for. It is a grammar over a few dozen tokens: a message is read
in about a tenth of a millisecond (bench/facts.py), not a model pass.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal

from core.facts.lexicon import (
    CUBED,
    CURRENCIES,
    LEXICONS,
    PERCENT_OF,
    ROOT,
    SQUARED,
    SYMBOLS,
    Lexicon,
)
from core.facts.numbers import read_number, words_to_digits
from core.tools.calculator import CalculationError, evaluate

MAX_TOKENS = 40  # an arithmetic question is short; a longer message is something else
MAX_RESULT_CHARS = 24  # a result longer than this is not something to say aloud

_BINARY = frozenset({"+", "-", "*", "/", "**"})

Piece = Decimal | str  # a number, or an operator (a calculator one, PERCENT_OF, ROOT, ...)

_TOKEN = re.compile(
    r"(?P<number>(?>\d+(?:[.,\u00a0\u202f]\d+)*))"
    r"(?P<ordinal>st|nd|rd|th|ª|º|ème|eme|er|e|te|ten)?(?![^\W\d_])"
    r"|\*\*|[%+\-−*×·/÷^=²³√€$£?!.,:;¿¡]"
    r"|(?P<word>[^\W\d_]+(?:['’-][^\W\d_]+)*['’]?)"
    r"|\S"
)


@dataclass(frozen=True)
class Calculation:
    """An arithmetic question as read: its pieces in the order said, and their value."""

    pieces: tuple[Piece, ...]
    value: int | float
    money: bool  # an amount of money: said with two decimals


@dataclass(frozen=True)
class _Token:
    text: str  # lower case
    number: Decimal | None = None
    ordinal: bool = False


@dataclass(frozen=True)
class _Parsed:
    pieces: list[Piece]
    python: str  # what the calculator evaluates
    end: int  # the index after the last token read
    money: bool = False


def read_arithmetic(text: str, language: str) -> Calculation | None:
    """The calculation `text` asks for in `language`, or None when it is not (only) an
    arithmetic question, or one the calculator refuses (division by zero)."""
    lexicon = LEXICONS.get(language)
    if lexicon is None:
        return None
    tokens = _tokens(words_to_digits(text, language), language)
    if not tokens or len(tokens) > MAX_TOKENS:
        return None
    grammar = _grammar(language)
    # Most messages hold no number or no operator: they are let go before any parsing.
    if not any(t.number is not None or t.text in lexicon.small for t in tokens):
        return None
    if not any(t.text in grammar.starts for t in tokens):
        return None
    reader = _Reader(tokens, lexicon, grammar)
    for start in range(len(tokens)):
        if tokens[start].number is None and tokens[start].text not in grammar.openers:
            continue
        parsed = reader.expression(start)
        if parsed is None or len(parsed.pieces) < 2:  # a number alone asks nothing
            continue
        outside = tokens[:start] + tokens[parsed.end :]
        if not all(reader.is_filler(token) for token in outside):
            return None
        try:
            value = evaluate(parsed.python)
        except CalculationError:
            return None
        if len(str(value)) > MAX_RESULT_CHARS:
            return None
        return Calculation(tuple(parsed.pieces), value, parsed.money)
    return None


def _tokens(text: str, language: str) -> list[_Token]:
    tokens = []
    for match in _TOKEN.finditer(text.lower().replace("’", "'")):
        if match.group("number"):
            number = read_number(match.group("number"), language)
            tokens.append(_Token(match.group(), number, bool(match.group("ordinal"))))
        else:
            tokens.append(_Token(match.group()))
    return tokens


@dataclass(frozen=True)
class _Grammar:
    """One language's lexicon, arranged for reading."""

    operators: dict[tuple[str, ...], str]  # the symbols and the language's phrases
    longest: int  # words in the longest phrase
    starts: frozenset[str]  # the first words of the operators, and "%"
    openers: frozenset[str]  # what an operand may start with but a number
    fillers: frozenset[str]  # what may stand outside the expression


@functools.cache
def _grammar(language: str) -> _Grammar:
    lexicon = LEXICONS[language]
    operators: dict[tuple[str, ...], str] = {(s,): op for s, op in SYMBOLS.items()}
    operators.update(lexicon.operators)
    roots = {phrase[0] for phrase, operator in operators.items() if operator == ROOT}
    return _Grammar(
        operators=operators,
        longest=max(len(phrase) for phrase in operators),
        starts=frozenset({phrase[0] for phrase in operators} | {"%"}),
        openers=frozenset(set(lexicon.small) | CURRENCIES | roots),
        fillers=lexicon.fillers | lexicon.tips | lexicon.of | CURRENCIES,
    )


class _Reader:
    """A recursive-descent reading of the tokens: expression := operand (operator operand)*,
    operand := [root] number [% [tip] of number] [squared]."""

    def __init__(self, tokens: list[_Token], lexicon: Lexicon, grammar: _Grammar) -> None:
        self.tokens = tokens
        self.lexicon = lexicon
        self.operators = grammar.operators
        self.longest = grammar.longest
        self.fillers = grammar.fillers

    def is_filler(self, token: _Token) -> bool:
        words, text = self.fillers, token.text
        return text in words or ("-" in text and all(p in words for p in text.split("-")))

    def operator(self, i: int) -> tuple[str, int] | None:
        """The operator whose phrase starts at token `i` (the longest), and where it ends."""
        for size in range(min(self.longest, len(self.tokens) - i), 0, -1):
            phrase = tuple(token.text for token in self.tokens[i : i + size])
            if phrase in self.operators:
                return self.operators[phrase], i + size
        return None

    def number(self, i: int, *, ordinal: bool = False) -> tuple[Decimal, int, bool] | None:
        """A number at `i` (money signs around it skipped), where it ends, and whether it is
        an amount of money. An ordinal ("10th", "10ª") only as an exponent."""
        money = False
        while i < len(self.tokens) and self.tokens[i].text in CURRENCIES:
            i, money = i + 1, True
        if i >= len(self.tokens):
            return None
        token = self.tokens[i]
        value = token.number
        if value is None and token.text in self.lexicon.small:
            value = Decimal(self.lexicon.small[token.text])
        if value is None or (token.ordinal and not ordinal):
            return None
        i += 1
        while i < len(self.tokens) and self.tokens[i].text in CURRENCIES:
            i, money = i + 1, True
        return value, i, money

    def operand(self, i: int, *, exponent: bool = False) -> _Parsed | None:
        root = self.operator(i)
        if root is not None and root[0] == ROOT:
            inner = self.operand(root[1])
            if inner is None:
                return None
            return _Parsed([ROOT, *inner.pieces], f"sqrt({inner.python})", inner.end, inner.money)
        found = self.number(i, ordinal=exponent)
        if found is None:
            return None
        value, i, money = found
        parsed = _Parsed([value], str(value), i, money)
        if i < len(self.tokens) and self.tokens[i].text == "%":
            parsed = self._percent_of(value, i + 1) or parsed
        after = self.operator(parsed.end)
        if after is not None and after[0] in (SQUARED, CUBED):
            power = after[0]
            return _Parsed(
                [*parsed.pieces, power], f"({parsed.python}){power}", after[1], parsed.money
            )
        return parsed

    def _percent_of(self, share: Decimal, i: int) -> _Parsed | None:
        """After "15 %": "of 80", "tip on 42 euros", "Trinkgeld auf 42 Euro"."""
        tokens, lexicon = self.tokens, self.lexicon
        while i < len(tokens) and tokens[i].text in lexicon.tips:
            i += 1
        if i >= len(tokens) or tokens[i].text not in lexicon.of:
            return None
        base = self.number(i + 1)
        if base is None:
            return None
        value, end, money = base
        python = f"({share}/100*{value})"
        return _Parsed([share, PERCENT_OF, value], python, end, money)

    def expression(self, i: int) -> _Parsed | None:
        first = self.operand(i)
        if first is None:
            return None
        pieces, python, end, money = list(first.pieces), first.python, first.end, first.money
        while (found := self.operator(end)) is not None and found[0] in _BINARY:
            operator, after = found
            right = self.operand(after, exponent=operator == "**")
            if right is None:
                break
            pieces += [operator, *right.pieces]
            python += f" {operator} {right.python}"
            end, money = right.end, money or right.money
        return _Parsed(pieces, python, end, money)
