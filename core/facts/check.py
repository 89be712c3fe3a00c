"""Whether the model's answer says the computed value: the number (in digits or words, in
either way of writing decimals), the time, the date or the year. Lenient on the form, since
a miss only costs one sentence more; strict on the value, since that sentence is the point."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from core.facts.clock import Ask
from core.facts.numbers import matches, numbers_in, words_to_digits
from core.facts.wording import MONTHS, WEEKDAYS

# Between an hour and its minutes: "14:05", "14.05", "14 h 05", "14 Uhr 5", "2 e 5", "2 y 5".
_HOUR_MINUTE = r"(?:\s*[:.h]\s*|\s+(?:uhr|heures?|e|y|and|ore)\s+)"
# After a full hour: "14 Uhr", "2 o'clock", "14 h", "14:00", "las 2 en punto".
_FULL_HOUR = r"(?:\s*(?::|\.|h)\s*00|\s*(?:uhr|heures?|h|o'?clock|in punto|en punto|am|pm)\b)"


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _names(table: dict[str, str], language: str) -> list[str]:
    return [_plain(name) for name in table.get(language, table["en"]).split()] + [
        _plain(name) for name in table["en"].split()
    ]


def says_number(answer: str, value: int | float, language: str) -> bool:
    """Whether `answer` says `value` (66, 6.3, 3.33 for 10 / 3, "sechsundsechzig")."""
    return any(matches(said, value) for said in numbers_in(answer, language))


def says_time(answer: str, moment: datetime, language: str) -> bool:
    """Whether `answer` says the hour and minute of `moment`, on a 24- or 12-hour clock."""
    text = _plain(words_to_digits(answer, language, every=True))
    hours = {moment.hour, moment.hour % 12 or 12}
    for hour in hours:
        if moment.minute == 0:
            pattern = rf"(?<!\d)0?{hour}{_FULL_HOUR}"
        else:
            pattern = rf"(?<!\d)0?{hour}{_HOUR_MINUTE}0?{moment.minute}(?!\d)"
        if re.search(pattern, text):
            return True
    return False


def says_date(answer: str, moment: datetime, language: str) -> bool:
    """Whether `answer` says the weekday, or the day with its month (by name or number)."""
    text = _plain(words_to_digits(answer, language, every=True))
    weekday = _names(WEEKDAYS, language)[moment.weekday() :: 7]
    if any(re.search(rf"\b{name}\b", text) for name in weekday):
        return True
    day = rf"(?<!\d)0?{moment.day}(?:st|nd|rd|th|er|\.|º|°)?(?!\d)"
    months = _names(MONTHS, language)[moment.month - 1 :: 12]
    if not re.search(day, text):
        return False
    numeric = rf"(?<!\d)0?{moment.day}[./-]0?{moment.month}(?!\d)"
    return bool(re.search(numeric, text)) or any(re.search(rf"\b{m}\b", text) for m in months)


def says_year(answer: str, moment: datetime, language: str) -> bool:
    """Whether `answer` says the year of `moment`."""
    return says_number(answer, moment.year, language)


def says(ask: Ask, answer: str, moment: datetime, language: str) -> bool:
    """Whether `answer` says what `ask` asked of the clock at `moment`."""
    if ask is Ask.TIME:
        return says_time(answer, moment, language)
    if ask is Ask.DATE:
        return says_date(answer, moment, language)
    return says_year(answer, moment, language)
