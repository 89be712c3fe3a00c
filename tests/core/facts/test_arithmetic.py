"""Arithmetic questions read in five languages, in words and in digits, computed by the safe
calculator; and messages that only hold numbers, which are not read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.facts.arithmetic import read_arithmetic
from core.facts.lexicon import PERCENT_OF, ROOT, SQUARED

QUESTIONS = [
    # English
    ("What is eleven times four?", "en", 44),
    ("How much is twenty-five plus eighteen?", "en", 43),
    ("What is one hundred and twenty divided by eight?", "en", 15),
    ("what is 15 % of 80", "en", 12),
    ("How much is a 15 % tip on 42 euros?", "en", 6.3),
    ("What is a fifteen percent tip on forty-two dollars?", "en", 6.3),
    ("two to the power of ten", "en", 1024),
    ("2 to the 10th", "en", 1024),
    ("what is three squared", "en", 9),
    ("What is the square root of 81?", "en", 9),
    ("Could you tell me what 7 times 8 is?", "en", 56),
    ("12*7=", "en", 84),
    ("What is 1,000 minus 387?", "en", 613),
    # German
    ("Elf mal sechs?", "de", 66),
    ("Wie viel sind zwei plus zwei?", "de", 4),
    ("Sag mal, was ist sieben mal acht?", "de", 56),
    ("Wie viel ist hundertzwanzig geteilt durch acht?", "de", 15),
    ("Was sind fünfzehn Prozent von achtzig?", "de", 12),
    ("Wie viel ist ein Trinkgeld von fünfzehn Prozent auf zweiundvierzig Euro?", "de", 6.3),
    ("Was ist drei hoch vier?", "de", 81),
    ("Was ist 7,5 mal 2?", "de", 15),
    ("12 : 4", "de", 3),
    ("Was ist die Wurzel aus 169?", "de", 13),
    # Spanish
    ("¿Cuánto es trece por tres?", "es", 39),
    ("¿Cuánto es dos más dos, por favor?", "es", 4),
    ("¿Cuánto es ciento veinte dividido entre ocho?", "es", 15),
    ("¿Cuánto es el quince por ciento de ochenta?", "es", 12),
    ("¿Cuánto es una propina del quince por ciento sobre cuarenta y dos euros?", "es", 6.3),
    ("dos elevado a diez", "es", 1024),
    ("siete coma cinco por dos", "es", 15),
    ("¿Cuál es la raíz cuadrada de 144?", "es", 12),
    # French
    ("Combien font vingt-cinq plus dix-huit ?", "fr", 43),
    ("quatre-vingt-dix-sept moins quatre-vingts", "fr", 17),
    ("Combien font quinze pour cent de quatre-vingts ?", "fr", 12),
    ("Combien fait un pourboire de quinze pour cent sur quarante-deux euros ?", "fr", 6.3),
    ("un plus un", "fr", 2),
    ("C'est combien, sept virgule cinq fois deux ?", "fr", 15),
    ("Dis-moi combien font 6 fois 7", "fr", 42),
    ("deux puissance dix", "fr", 1024),
    ("Quelle est la racine carrée de 81 ?", "fr", 9),
    # Italian
    ("Quanto fa otto per sei?", "it", 48),
    ("Quant'è ventitré meno sette?", "it", 16),
    ("Quanto fa centoventi diviso otto?", "it", 15),
    ("Quanto fa il quindici per cento di ottanta?", "it", 12),
    ("Quanto fa una mancia del quindici per cento su quarantadue euro?", "it", 6.3),
    ("Quanto fa l'otto per cento di cinquanta?", "it", 4),
    ("due alla decima", "it", 1024),
    ("tre alla seconda", "it", 9),
    ("sette virgola cinque per due, per favore", "it", 15),
    ("Qual è la radice quadrata di 81?", "it", 9),
]


@pytest.mark.parametrize(("text", "language", "value"), QUESTIONS)
def test_an_arithmetic_question_is_computed(text: str, language: str, value: float) -> None:
    calculation = read_arithmetic(text, language)

    assert calculation is not None
    assert calculation.value == value
    assert isinstance(calculation.value, int) == float(value).is_integer()


def test_the_pieces_say_what_was_asked_in_order() -> None:
    tip = read_arithmetic("How much is a 15 % tip on 42 euros?", "en")
    root = read_arithmetic("Was ist die Wurzel aus 169?", "de")
    square = read_arithmetic("what is three squared", "en")
    sum_ = read_arithmetic("Elf mal sechs plus eins?", "de")

    assert tip is not None and tip.pieces == (Decimal(15), PERCENT_OF, Decimal(42))
    assert tip.money  # an amount of money: said with two decimals
    assert root is not None and root.pieces == (ROOT, Decimal(169)) and not root.money
    assert square is not None and square.pieces == (Decimal(3), SQUARED)
    assert sum_ is not None and sum_.pieces == (Decimal(11), "*", Decimal(6), "+", Decimal(1))
    assert sum_.value == 67  # the calculator's precedence


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("How many legs does a spider have?", "en"),
        ("I was born in 1990 and I have 2 kids.", "en"),
        ("What is 3 plus 4 in Paris?", "en"),  # one word too many
        ("What is 15 %?", "en"),
        ("one", "en"),
        ("2026", "en"),
        ("Ich war zwei mal in Paris.", "de"),
        ("Ich habe eine Frage.", "de"),
        ("Tengo una pregunta y dos respuestas.", "es"),
        ("J'ai 2 enfants et 3 chats.", "fr"),
        ("Ho 3 gatti e 2 cani.", "it"),
        ("Quante zampe ha un ragno?", "it"),
    ],
)
def test_a_message_that_only_holds_numbers_is_not_read(text: str, language: str) -> None:
    assert read_arithmetic(text, language) is None


def test_what_the_calculator_refuses_is_left_to_the_model() -> None:
    assert read_arithmetic("What is 5 divided by 0?", "en") is None
    assert read_arithmetic("What is 9 to the power of 99?", "en") is None  # too long to say


def test_a_question_in_another_language_is_not_read_in_this_one() -> None:
    assert read_arithmetic("Elf mal sechs?", "en") is None
    assert read_arithmetic("Otto per sei?", "es") is None
    assert read_arithmetic("Quanto fa otto per sei?", "pt") is None  # no lexicon
