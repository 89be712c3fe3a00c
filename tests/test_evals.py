"""The evaluation set (evals/questions.jsonl) is complete and well formed, and the scoring of
bench/quality.py judges answers as a person would."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from bench.quality import holds_any, is_echo, judge, load_items, summary

LANGUAGES = {"en", "fr", "es", "de", "it"}


def test_the_set_covers_every_category_and_language() -> None:
    items = load_items()
    kinds = Counter((item.category, item.language) for item in items)

    assert len(items) >= 225
    assert len({item.id for item in items}) == len(items)
    for language in LANGUAGES:
        assert kinds["factual", language] >= 20, language
        assert kinds["statement", language] >= 4, language
        assert kinds["followup", language] >= 4, language
        assert kinds["arithmetic", language] >= 10, language
        assert kinds["clock", language] >= 5, language
    assert kinds["upload", "en"] >= 10
    for item in items:
        assert item.language in LANGUAGES and item.turns, item
        assert bool(item.expect_any) != (item.category in ("statement", "clock")), item
        assert (item.expect is not None) == (item.category == "clock"), item
        assert item.expect in (None, "time", "date", "year"), item
        assert (item.recording is not None) == (item.category == "upload"), item
        assert len(item.turns) == (2 if item.category == "followup" else 1), item


def test_expected_words_are_whole_words_with_accents_and_case_ignored() -> None:
    assert holds_any("La capitale du Pérou est Lima.", ["lima"])
    assert holds_any("El idioma es el portugués.", ["portugues"])
    assert holds_any("Grün entsteht.", ["grun"])
    assert holds_any("Buenos Aires es la capital.", ["buenos aires"])
    assert holds_any("There are 8 legs.", ["eight", "8"])
    assert not holds_any("There are 18 legs.", ["eight", "8"])
    assert not holds_any("Romeo was there.", ["rome"])  # a whole word, not a prefix
    assert not holds_any("The capital of Italy is Berlin.", ["rome"])


def test_repeating_a_statement_back_is_an_echo_and_a_reply_is_not() -> None:
    said = "And so, my fellow Americans: ask not what your country can do for you."
    assert is_echo("And so my fellow America asked not what your country can do for you...", said)
    assert not is_echo("That is a famous line from President Kennedy's 1961 speech.", said)


def test_a_right_answer_needs_the_words_and_the_language() -> None:
    item = next(i for i in load_items() if i.id == "factual-it-01")  # capitale della Spagna

    assert judge(item, "La capitale della Spagna è Madrid.", 0.2, 1.0).right
    assert not judge(item, "La capitale della Spagna è Roma.", 0.2, 1.0).right
    wrong_language = judge(item, "The capital of Spain is Madrid, of course.", 0.2, 1.0)
    assert wrong_language.right_words and not wrong_language.right


def test_a_statement_needs_a_reply_of_a_few_words() -> None:
    item = next(i for i in load_items() if i.category == "statement" and i.language == "es")

    assert judge(item, "¡Qué bien! Cuéntame más.", 0.2, 1.0).right
    assert not judge(item, "¡¡¡¡¡¡¡¡¡¡¡¡", 0.2, 1.0).right
    assert not judge(item, item.turns[0], 0.2, 1.0).right  # repeated back


def test_a_clock_item_is_judged_by_the_clock_while_it_was_answered() -> None:
    item = next(i for i in load_items() if i.id == "clock-de-01")  # Wie spät ist es?
    asked = datetime(2026, 12, 5, 14, 5, 30, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()

    def verdict(answer: str, zone: str = "Europe/Berlin"):
        return judge(item, answer, 0.2, 1.0, asked_at=asked, zone=zone)

    assert verdict("Es ist 14:05 Uhr.").right
    assert verdict("Es ist 14:06 Uhr.").right  # the minute turned while it was written
    assert not verdict("Es ist 12:30 Uhr.").right  # made up
    assert not verdict("Es ist 14:05 Uhr.", zone="Asia/Tokyo").right  # another zone's clock
    date = next(i for i in load_items() if i.id == "clock-fr-03")  # la date d'aujourd'hui
    assert judge(date, "Nous sommes le samedi 5 décembre.", 0.2, 1.0, asked_at=asked).right
    assert judge(date, "Aujourd'hui, c'est le 5 décembre 2026.", 0.2, 1.0, asked_at=asked).right
    assert not judge(date, "Nous sommes le 4 décembre.", 0.2, 1.0, asked_at=asked).right


def test_a_wrong_answer_that_does_not_hedge_is_confidently_wrong() -> None:
    item = next(i for i in load_items() if i.id == "factual-it-01")  # capitale della Spagna
    right = judge(item, "La capitale della Spagna è Madrid.", 0.2, 1.0)
    sure = judge(item, "La capitale della Spagna è Barcellona.", 0.2, 1.0)
    unsure = judge(item, "Non sono sicuro, ma credo che sia Barcellona.", 0.2, 1.0)

    assert (right.confidently_wrong, sure.confidently_wrong) == (False, True)
    assert unsure.hedged and not unsure.right and not unsure.confidently_wrong
    figures = summary([right, sure, unsure])
    assert figures["confidently_wrong_pct"] == 33.3 and figures["hedged"] == 1
