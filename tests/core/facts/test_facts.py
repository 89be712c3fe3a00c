"""The facts package's entry points: a message's fact, found in the language its words are
in, and the words the agent adds to an answer that lacks the value; and no fact on any item of
the evaluation set that is not arithmetic or a question to the clock."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.quality import FACT_CATEGORIES, holds_any, load_items
from core import language
from core.facts import find_fact, words_to_add

NOON = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)  # 12:00 in Paris, a Saturday


def test_number_words_tell_the_language_that_detection_could_not() -> None:
    """ "Elf mal sechs?" is too short for the language detector (it says English); only
    German reads it, so the fact, and its note, are German."""
    fact = find_fact("Elf mal sechs?", language="en", time_zone="UTC")

    assert fact is not None
    assert (fact.language, fact.kind) == ("de", "arithmetic")
    assert fact.note == "(Taschenrechner: 11 × 6 = 66)"
    assert fact.sentence == "Der Taschenrechner sagt: 11 mal 6 ist 66."


def test_a_language_without_wording_gets_a_fact_only_when_words_name_one() -> None:
    # The detector took this for Portuguese: the number words are Spanish.
    spanish = find_fact("¿Cuánto es tres coma cinco por seis?", language="pt", time_zone="UTC")

    assert spanish is not None and spanish.language == "es"
    assert spanish.sentence == "La calculadora dice: 3,5 por 6 es 21."
    assert find_fact("11 * 6?", language="pt", time_zone="UTC") is None  # nothing names one
    assert find_fact("11 * 6?", language="it", time_zone="UTC") is not None


def test_a_settled_language_is_the_only_one_read() -> None:
    assert find_fact("Elf mal sechs?", language="en", time_zone="UTC", settled=True) is None
    assert find_fact("Elf mal sechs?", language="pt", time_zone="UTC", settled=True) is None


def test_a_question_to_the_clock_reads_the_users_zone() -> None:
    fact = find_fact("Wie spät ist es?", language="de", time_zone="Europe/Paris", now=lambda: NOON)

    assert fact is not None and fact.kind == "time"
    assert fact.note == "(Jetzt: 12:00 Uhr, Samstag, 5. Dezember 2026)"
    assert fact.sentence == "Die Uhr sagt: Es ist 12:00 Uhr."


def test_a_garbled_answer_gets_the_value_said() -> None:
    fact = find_fact("Elf mal sechs?", language="de", time_zone="UTC")
    clock = find_fact("What time is it?", language="en", time_zone="Europe/Paris", now=lambda: NOON)

    said = "Der Taschenrechner sagt: 11 mal 6 ist 66."
    assert words_to_add(fact, "Elf mal sechs ist zwölf.") == f" {said}"
    assert words_to_add(fact, "") == said
    assert words_to_add(fact, "Elf mal sechs ist sechsundsechzig.") == ""
    assert words_to_add(clock, "The time is currently 12:30 PM.") == " The clock says: it is 12:00."
    assert words_to_add(clock, "It is noon, 12:00.") == ""
    assert words_to_add(None, "Anything at all.") == ""


def test_every_arithmetic_and_clock_item_of_the_evaluation_set_gets_its_fact() -> None:
    """In its own language, from whatever language the detector guesses for a new session."""
    items = [item for item in load_items() if item.category in FACT_CATEGORIES]

    found = {
        item.id: find_fact(
            item.turns[-1],
            language=language.detect(item.turns[-1], fallback="en"),
            time_zone="UTC",
        )
        for item in items
    }

    assert len(items) >= 50
    assert {key: fact.language if fact else None for key, fact in found.items()} == {
        item.id: item.language for item in items
    }


def test_no_fact_fires_on_any_other_item_of_the_evaluation_set() -> None:
    """False triggers: target 0. A factual item that is itself arithmetic ("What is seven
    times eight?") may get its fact, but only the value it expects."""
    false: list[str] = []
    arithmetic: list[str] = []
    for item in load_items():
        if item.category in FACT_CATEGORIES:
            continue
        for n, turn in enumerate(item.turns, 1):
            fact = find_fact(turn, language=item.language, time_zone="UTC")
            if fact is None:
                continue
            value = fact.calculation.value if fact.calculation else None
            if n == len(item.turns) and holds_any(str(value), item.expect_any):
                arithmetic.append(item.id)
            else:
                false.append(f"{item.id}: {turn}")

    assert false == []
    assert all(item_id.startswith("factual-") for item_id in arithmetic)
