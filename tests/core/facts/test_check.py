"""Whether an answer says the computed value: in digits or words, the time on either clock,
the date by weekday or by day and month."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.facts.check import says, says_date, says_number, says_time, says_year
from core.facts.clock import Ask

AFTERNOON = datetime(2026, 12, 5, 14, 5)  # a Saturday
THREE = datetime(2026, 12, 5, 15, 0)


@pytest.mark.parametrize(
    ("answer", "value", "language", "said"),
    [
        ("Elf mal sechs ist sechsundsechzig.", 66, "de", True),
        ("Elf mal sechs ist 66.", 66, "de", True),
        ("Elf mal sechs ist zwölf.", 66, "de", False),
        ("Trece por tres es nueve.", 39, "es", False),
        ("Trece por tres son treinta y nueve.", 39, "es", True),
        ("Vingt-cinq plus dix-huit fait trente-dix-sept.", 43, "fr", False),
        ("Vingt-cinq plus dix-huit font quarante-trois.", 43, "fr", True),
        ("Otto per sei è quarantotto.", 48, "it", True),
        ("Eleven times four equals forty.", 44, "en", False),
        ("That makes 6,30 €.", 6.3, "en", True),  # a comma where English writes a dot
        ("Das sind 6.3 Euro.", 6.3, "de", True),
        ("Das sind 6 Euro.", 6.3, "de", False),
        ("About 3.33.", 10 / 3, "en", True),
    ],
)
def test_the_number_is_found_in_words_or_digits(answer, value, language, said) -> None:
    assert says_number(answer, value, language) is said


@pytest.mark.parametrize(
    ("answer", "moment", "language", "said"),
    [
        ("Es ist 14:05 Uhr.", AFTERNOON, "de", True),
        ("Es ist vierzehn Uhr fünf.", AFTERNOON, "de", True),
        ("It's 2:05 PM.", AFTERNOON, "en", True),
        ("Il est 14 h 05.", AFTERNOON, "fr", True),
        ("Sono le 14 e 5.", AFTERNOON, "it", True),
        ("Son las 2 y 5 de la tarde.", AFTERNOON, "es", True),
        ("The time is currently 12:30 PM.", AFTERNOON, "en", False),
        ("Es ist 14:50 Uhr.", AFTERNOON, "de", False),
        ("Il est 15 heures.", THREE, "fr", True),
        ("It is 3 o'clock.", THREE, "en", True),
        ("Es ist 15 Uhr.", THREE, "de", True),
        ("It is 15 past 3.", THREE, "en", False),
    ],
)
def test_the_time_is_found_on_either_clock(answer, moment, language, said) -> None:
    assert says_time(answer, moment, language) is said


@pytest.mark.parametrize(
    ("answer", "language", "said"),
    [
        ("Heute ist Samstag.", "de", True),
        ("Today is Saturday.", "en", True),
        ("C'est le 5 décembre.", "fr", True),
        ("Es el 5 de diciembre de 2026.", "es", True),
        ("Heute ist der 5.12.2026.", "de", True),
        ("Oggi è venerdì 4 dicembre.", "it", False),
        ("Today is December 6th.", "en", False),
    ],
)
def test_the_date_is_found_by_weekday_or_day_and_month(answer, language, said) -> None:
    assert says_date(answer, AFTERNOON, language) is said


def test_the_year_and_the_dispatch() -> None:
    assert says_year("Wir haben 2026.", AFTERNOON, "de")
    assert not says_year("Wir haben 2025.", AFTERNOON, "de")
    assert says(Ask.TIME, "It is 14:05.", AFTERNOON, "en")
    assert says(Ask.DATE, "Saturday!", AFTERNOON, "en")
    assert not says(Ask.YEAR, "Saturday!", AFTERNOON, "en")


def test_a_small_result_said_in_a_word_counts() -> None:
    # text2num leaves a lone "zwei" as a word in a question; in an answer it is the result.
    assert says_number("Eins plus eins ist zwei.", 2, "de")
    assert says_number("Uno más uno son dos.", 2, "es")
    assert not says_number("Eins plus eins ist drei.", 2, "de")
