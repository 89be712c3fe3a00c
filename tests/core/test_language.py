"""Language detection on typed text, from a single word to a paragraph."""

from __future__ import annotations

import pytest

from core.language import detect


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What is the capital of France?", "en"),
        ("Quelle est la capitale de la France ?", "fr"),
        ("¿Cuál es la capital de Francia?", "es"),
        ("Bonjour", "fr"),
        ("Hola", "es"),
        ("Merci beaucoup", "fr"),
        ("gracias", "es"),
        ("thanks", "en"),
        ("Wie spät ist es?", "de"),
        (
            "Je voudrais réserver une table pour deux personnes demain soir, s'il vous plaît.",
            "fr",
        ),
        ("Me gustaría saber cómo llegar a la estación de tren más cercana.", "es"),
    ],
)
def test_detects_short_and_long_text(text: str, expected: str) -> None:
    assert detect(text, fallback="en") == expected


@pytest.mark.parametrize("text", ["ok", "42", "?!", "", "hmm"])
def test_text_that_says_nothing_keeps_the_conversation_language(text: str) -> None:
    assert detect(text, fallback="fr") == "fr"
    assert detect(text, fallback="es") == "es"
