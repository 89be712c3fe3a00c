"""Numbers in a message or an answer: words read as digits (text2num), digits read with the
language's separators, and a result written back the way the language writes it."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# The languages whose number words text2num reads and whose questions core/facts knows.
LANGUAGES = ("en", "de", "es", "fr", "it")

# text2num reads "quince por ciento" as "15 por 100" (cent is a number word in each of these
# languages); the phrase is turned into a sign first, so it stays a percentage.
_PERCENT_WORDS = {
    "en": r"per\s*cent|percent|pct",
    "de": r"prozent",
    "es": r"por\s+ciento",
    "fr": r"pour\s*cents?",
    "it": r"per\s*cento",
}
_PERCENT = {
    code: re.compile(rf"\s*\b(?:{words})\b", re.IGNORECASE)
    for code, words in _PERCENT_WORDS.items()
}
# text2num leaves an elided number whole ("l'otto", "dell'undici"): the article is cut off.
_ELISION = re.compile(r"\b([^\W\d_]+['’])(?=[^\W\d_])")

# A run of digits with the separators people write between them (1.000,5 or 1,000.5 or
# 1 000 with a narrow space).
_DIGITS = re.compile(r"\d(?:[\d.,\u00a0\u202f]*\d)?")
_GROUPED = re.compile(r"\d{1,3}([.,])\d{3}(?:\1\d{3})*")


def words_to_digits(text: str, language: str, *, every: bool = False) -> str:
    """`text` with the numbers written in words of `language` in digits ("Elf mal sechs" ->
    "11 mal 6") and a spelled percentage as "%". Isolated numbers up to three stay words
    (text2num's threshold: "ein Trinkgeld" is an article; the question grammar reads them where
    arithmetic needs a number) unless `every` (an answer's "zwei" is the result 2). Text in
    another language comes back unchanged."""
    if language not in LANGUAGES:
        return text
    from text_to_num import alpha2digit

    text = _PERCENT[language].sub(" %", text)
    if language in ("fr", "it"):
        text = _ELISION.sub(r"\1 ", text)
    return str(alpha2digit(text, language, threshold=0.0 if every else 3.0))


def read_number(token: str, language: str) -> Decimal | None:
    """The value of a number written in digits, with the separators of `language`: "7,5" is
    seven and a half in German, "1,000" a thousand in English; "7.5" in German is read as
    the English way of writing 7,5. None when it is no number."""
    decimal, group = (".", ",") if language == "en" else (",", ".")
    token = re.sub(r"[\u00a0\u202f]", "", token)
    if decimal in token and group in token:
        if token.rindex(decimal) < token.rindex(group):  # written the other language's way
            decimal, group = group, decimal
        token = token.replace(group, "").replace(decimal, ".")
    elif group in token:
        if _GROUPED.fullmatch(token):
            token = token.replace(group, "")
        elif token.count(group) == 1:
            token = token.replace(group, ".")
    elif token.count(decimal) == 1:
        token = token.replace(decimal, ".")
    elif _GROUPED.fullmatch(token):
        token = token.replace(decimal, "")
    try:
        return Decimal(token)
    except InvalidOperation:
        return None


def numbers_in(text: str, language: str) -> list[Decimal]:
    """Every number `text` says, in words or digits. A run of digits that reads two ways
    ("1.000" is a thousand in German, one in English) gives both values."""
    text = words_to_digits(text, language, every=True)
    values: list[Decimal] = []
    for match in _DIGITS.finditer(text):
        for way in (language, "de" if language == "en" else "en"):
            value = read_number(match.group(), way)
            if value is not None and value not in values[-2:]:
                values.append(value)
    return values


def written(value: int | float, language: str, *, money: bool = False) -> str:
    """`value` as `language` writes it: at most two decimals (an amount of money with exactly
    two), a decimal comma everywhere but in English, no thousands separator (a voice reads
    "1.000" as one in English and a thousand in German)."""
    if isinstance(value, int) or float(value).is_integer():
        text = str(int(value))
    else:
        text = f"{value:.2f}"
        if not money:
            text = text.rstrip("0").rstrip(".")
    return text if language == "en" else text.replace(".", ",")


def matches(said: Decimal, value: int | float) -> bool:
    """Whether a number an answer `said` is `value` (its sign aside: "minus" may be a word):
    exactly for a whole number; else rounded to the decimals said, at least two unless fewer
    show the value (3.33 is 10 / 3, 3.3 and 3 are not; 6.3 and 6.30 are 15 % of 42)."""
    if float(value).is_integer():
        return abs(said) == abs(int(value))
    exact = abs(Decimal(repr(float(value))))
    places = max(0, -_exponent(said))
    if places < min(2, -_exponent(exact)):
        return False
    return abs(said) == exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0
