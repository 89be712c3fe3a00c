"""The hedge in the user's language, continued by the model's own first words."""

from __future__ import annotations

import pytest

from core.turns.hedge import HEDGES, hedged


@pytest.mark.parametrize(
    ("language", "first", "said"),
    [
        ("en", "The", "I'm not sure, but I think the"),
        ("en", "Mount Everest", "I'm not sure, but I think Mount Everest"),
        ("en", "I", "I'm not sure, but I think I"),
        ("de", "Der höchste Berg", "Ich bin mir nicht sicher, aber ich glaube, der höchste Berg"),
        ("de", "Zugspitze", "Ich bin mir nicht sicher, aber ich glaube, Zugspitze"),
        ("de", "Sie", "Ich bin mir nicht sicher, aber ich glaube, Sie"),
        ("fr", "Le plus petit", "Je ne suis pas sûr, mais je crois que le plus petit"),
        ("fr", "Il s'agit", "Je ne suis pas sûr, mais je crois qu'il s'agit"),
        ("fr", "L'Everest", "Je ne suis pas sûr, mais je crois que l'Everest"),
        ("es", "El", "No estoy seguro, pero creo que el"),
        ("it", "Lo Stato", "Non sono sicuro, ma forse lo Stato"),
        ("xx", " The", "I'm not sure, but I think the"),
    ],
)
def test_the_hedge_goes_in_front_of_the_first_words(language: str, first: str, said: str) -> None:
    assert hedged(language, first) == said


def test_every_hedge_is_one_the_quality_bench_counts_as_hedged() -> None:
    from bench.expected import hedged as counted
    from bench.quality import plain

    for language, hedge in HEDGES.items():
        assert counted(plain(hedge), language), language
