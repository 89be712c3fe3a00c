"""The note the model reads and the sentence the agent says, in each language."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.facts.arithmetic import read_arithmetic
from core.facts.clock import Ask
from core.facts.wording import (
    calculation_note,
    calculation_sentence,
    clock_note,
    clock_sentence,
)

AFTERNOON = datetime(2026, 12, 5, 14, 5)  # a Saturday
ONE = datetime(2026, 12, 5, 1, 0)
# Said first, so a listener who heard a wrong value before knows which to believe.
SAYS = {
    "en": ("The calculator says: ", "The clock says: "),
    "de": ("Der Taschenrechner sagt: ", "Die Uhr sagt: "),
    "es": ("La calculadora dice: ", "El reloj dice: "),
    "fr": ("La calculatrice dit : ", "L'horloge dit : "),
    "it": ("La calcolatrice dice: ", "L'orologio dice: "),
}


@pytest.mark.parametrize(
    ("text", "language", "note", "sentence"),
    [
        ("Eleven times six?", "en", "(Calculator: 11 × 6 = 66)", "11 times 6 is 66."),
        ("Elf mal sechs?", "de", "(Taschenrechner: 11 × 6 = 66)", "11 mal 6 ist 66."),
        ("Once por seis?", "es", "(Calculadora: 11 × 6 = 66)", "11 por 6 es 66."),
        ("Onze fois six ?", "fr", "(Calculatrice: 11 × 6 = 66)", "11 fois 6 vaut 66."),
        ("Undici per sei?", "it", "(Calcolatrice: 11 × 6 = 66)", "11 per 6 fa 66."),
        (
            "Wie viel ist ein Trinkgeld von 10 Prozent auf 35 Euro?",
            "de",
            "(Taschenrechner: 10 % von 35 = 3,50)",
            "10 Prozent von 35 ist 3,50.",
        ),
        (
            "Combien font sept virgule cinq fois deux ?",
            "fr",
            "(Calculatrice: 7,5 × 2 = 15)",
            "7,5 fois 2 vaut 15.",
        ),
        ("Quanto fa 10 diviso 3?", "it", "(Calcolatrice: 10 ÷ 3 ≈ 3,33)", "10 diviso 3 fa 3,33."),
        (
            "Was ist die Wurzel aus 169?",
            "de",
            "(Taschenrechner: √169 = 13)",
            "Die Wurzel aus 169 ist 13.",
        ),
        ("what is three squared", "en", "(Calculator: 3² = 9)", "3 squared is 9."),
        ("dos elevado a diez", "es", "(Calculadora: 2 ^ 10 = 1024)", "2 elevado a 10 es 1024."),
    ],
)
def test_a_calculation_is_noted_and_said_in_the_language(text, language, note, sentence) -> None:
    calculation = read_arithmetic(text, language)
    assert calculation is not None

    assert calculation_note(calculation, language) == note
    assert calculation_sentence(calculation, language) == SAYS[language][0] + sentence


@pytest.mark.parametrize(
    ("language", "note", "time", "date", "year"),
    [
        (
            "en",
            "(Now: 14:05, Saturday, 5 December 2026)",
            "it is 14:05.",
            "today is Saturday, 5 December 2026.",
            "it is 2026.",
        ),
        (
            "de",
            "(Jetzt: 14:05 Uhr, Samstag, 5. Dezember 2026)",
            "Es ist 14:05 Uhr.",
            "Heute ist Samstag, 5. Dezember 2026.",
            "Wir haben das Jahr 2026.",
        ),
        (
            "es",
            "(Ahora: 14:05, sábado, 5 de diciembre de 2026)",
            "son las 14:05.",
            "hoy es sábado, 5 de diciembre de 2026.",
            "estamos en 2026.",
        ),
        (
            "fr",
            "(Maintenant: 14 h 05, samedi 5 décembre 2026)",
            "il est 14 h 05.",
            "nous sommes le samedi 5 décembre 2026.",
            "nous sommes en 2026.",
        ),
        (
            "it",
            "(Adesso: 14:05, sabato 5 dicembre 2026)",
            "sono le 14:05.",
            "oggi è sabato 5 dicembre 2026.",
            "siamo nel 2026.",
        ),
    ],
)
def test_the_clock_is_noted_and_said_in_the_language(language, note, time, date, year) -> None:
    clock = SAYS[language][1]
    assert clock_note(AFTERNOON, language) == note
    assert clock_sentence(Ask.TIME, AFTERNOON, language) == clock + time
    assert clock_sentence(Ask.DATE, AFTERNOON, language) == clock + date
    assert clock_sentence(Ask.YEAR, AFTERNOON, language) == clock + year


def test_one_oclock_is_singular_where_the_language_says_so() -> None:
    assert clock_sentence(Ask.TIME, ONE, "es") == "El reloj dice: es la 1:00."
    assert clock_sentence(Ask.TIME, ONE, "it") == "L'orologio dice: è l'una in punto."
    assert clock_sentence(Ask.TIME, ONE.replace(minute=5), "it") == "L'orologio dice: è l'una e 5."
    assert clock_sentence(Ask.TIME, ONE, "en") == "The clock says: it is 1:00."
