"""Numbers in words and digits: what text2num does in each language (checked here before the
question grammar relies on it), the separators of each language, and results written back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from text_to_num import alpha2digit

from core.facts.numbers import matches, numbers_in, read_number, words_to_digits, written


@pytest.mark.parametrize(
    ("text", "language", "digits"),
    [
        # German writes compounds as one word, units before tens.
        ("Elf mal sechs?", "de", "11 mal 6?"),
        ("zweihundertsiebenunddreißig minus neunzehn", "de", "237 minus 19"),
        ("einhundertzwanzig durch acht", "de", "120 durch 8"),
        ("sieben Komma fünf mal zwei", "de", "7,5 mal 2"),
        # French counts in twenties: quatre-vingt-dix-sept is 4 x 20 + 17.
        ("quatre-vingt-dix-sept moins quatre-vingts", "fr", "97 moins 80"),
        ("soixante et onze plus vingt et un", "fr", "71 plus 21"),
        ("sept virgule cinq fois deux", "fr", "7,5 fois deux"),  # a lone "deux" stays
        # Spanish joins tens and units with "y"; Italian drops a vowel (ventun, ventotto).
        ("cuarenta y dos más ciento veinte", "es", "42 más 120"),
        ("ventun per ventotto", "it", "21 per 28"),
        ("ventitré meno sette", "it", "23 meno 7"),
        ("one hundred and twenty divided by eight", "en", "120 divided by 8"),
    ],
)
def test_text2num_reads_each_languages_number_words(text, language, digits) -> None:
    assert words_to_digits(text, language) == digits


def test_text2num_leaves_small_isolated_numbers_and_articles_as_words() -> None:
    """Below its threshold a lone number stays a word, so "ein Trinkgeld" keeps its article;
    it also keeps "zwei plus zwei", which is why the grammar reads small number words itself
    (lexicon.py `small`)."""
    assert alpha2digit("ein Trinkgeld von fünfzehn Euro", "de") == "ein Trinkgeld von 15 Euro"
    assert alpha2digit("zwei plus zwei", "de") == "zwei plus zwei"
    assert alpha2digit("dos más dos", "es") == "dos más dos"
    assert alpha2digit("Tengo una pregunta", "es") == "Tengo una pregunta"


def test_a_spelled_percentage_stays_a_percentage() -> None:
    # text2num alone reads "ciento" / "cent" / "cento" as a hundred.
    assert alpha2digit("el quince por ciento de ochenta", "es") == "el 15 por 100 de 80"
    assert words_to_digits("el quince por ciento de ochenta", "es") == "el 15 % de 80"
    assert words_to_digits("quinze pour cent de quatre-vingts", "fr") == "15 % de 80"
    assert words_to_digits("il quindici per cento di ottanta", "it") == "il 15 % di 80"
    assert words_to_digits("fünfzehn Prozent von achtzig", "de") == "15 % von 80"
    assert words_to_digits("fifteen percent of eighty", "en") == "15 % of 80"


def test_an_elided_italian_or_french_number_is_read() -> None:
    assert alpha2digit("l'otto per cento", "it") == "l'otto per 100"  # text2num alone
    assert words_to_digits("l'otto per cento di cinquanta", "it") == "l' 8 % di 50"
    assert words_to_digits("dell'undici", "it") == "dell' 11"


def test_text_in_another_language_is_left_alone() -> None:
    assert words_to_digits("quinze mais dois", "pt") == "quinze mais dois"


@pytest.mark.parametrize(
    ("token", "language", "value"),
    [
        ("7,5", "de", "7.5"),
        ("7.5", "de", "7.5"),  # a decimal written the English way
        ("1.000", "de", "1000"),
        ("1,000", "en", "1000"),
        ("7,5", "en", "7.5"),
        ("1.000,5", "de", "1000.5"),
        ("1,000.5", "fr", "1000.5"),
        ("1\u202f000", "fr", "1000"),
        ("1.000.000", "it", "1000000"),
        ("42", "es", "42"),
    ],
)
def test_digits_are_read_with_the_languages_separators(token, language, value) -> None:
    assert read_number(token, language) == Decimal(value)


def test_numbers_in_an_answer_are_found_in_words_and_digits() -> None:
    assert Decimal(66) in numbers_in("Elf mal sechs ist sechsundsechzig.", "de")
    assert Decimal("6.30") in numbers_in("Das macht 6,30 Euro.", "de")
    # "1.000" is a thousand in German and one in English: both are kept.
    assert {Decimal(1000), Decimal("1.000")} <= set(numbers_in("Es sind 1.000 Euro", "de"))


@pytest.mark.parametrize(
    ("said", "value", "right"),
    [
        ("66", 66, True),
        ("65", 66, False),
        ("66.0", 66, True),
        ("6.3", 6.3, True),
        ("6.30", 6.3, True),
        ("6", 6.3, False),
        ("3.33", 10 / 3, True),
        ("3.333", 10 / 3, True),
        ("3.3", 10 / 3, False),  # fewer decimals than two do not show a third
        ("3", 10 / 3, False),
        ("3.34", 10 / 3, False),
        ("0.67", 2 / 3, True),  # rounded, not cut
        ("5", -5, True),  # "minus" may be a word before it
    ],
)
def test_a_said_number_matches_the_value_to_the_decimals_said(said, value, right) -> None:
    assert matches(Decimal(said), value) is right


@pytest.mark.parametrize(
    ("value", "language", "money", "text"),
    [
        (66, "de", False, "66"),
        (6.3, "de", True, "6,30"),
        (6.3, "en", False, "6.3"),
        (10 / 3, "fr", False, "3,33"),
        (15.0, "it", False, "15"),
        (1024, "es", False, "1024"),  # no thousands separator: voices read "1.024" two ways
    ],
)
def test_a_result_is_written_the_languages_way(value, language, money, text) -> None:
    assert written(value, language, money=money) == text
