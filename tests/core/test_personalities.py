"""Personalities: each built-in prompt in the user's language, in one register, and a custom
prompt kept as written."""

from __future__ import annotations

import pytest

from core import personalities

LANGUAGES = ("fr", "es", "de", "it")


@pytest.mark.parametrize("name", sorted(personalities.BUILTIN))
def test_every_builtin_prompt_is_written_in_the_five_languages(name: str) -> None:
    english = personalities.system_prompt(name, custom_prompt=None, language="en")
    prompts = {
        lang: personalities.system_prompt(name, custom_prompt=None, language=lang)
        for lang in LANGUAGES
    }
    assert english.startswith(personalities.BUILTIN[name].prompt)
    assert english.endswith("Always answer in English, the language the user speaks.")
    assert len(set(prompts.values())) == len(LANGUAGES)
    for lang, prompt in prompts.items():
        assert "answer" not in prompt.lower(), (lang, prompt)  # no English left in it
    assert prompts["fr"].endswith("en français.")
    assert prompts["es"].endswith("en español.")
    assert prompts["de"].endswith("auf Deutsch.")
    assert prompts["it"].endswith("in italiano.")


def test_the_formal_personality_keeps_the_polite_form_throughout() -> None:
    formal = personalities.system_prompt("formal", custom_prompt=None, language="fr")
    casual = personalities.system_prompt("casual", custom_prompt=None, language="fr")
    assert "Vous êtes" in formal and " tu " not in f" {formal} " and "Réponds " not in formal
    assert "Tu es" in casual and "Répondez" not in casual
    german = personalities.system_prompt("formal", custom_prompt=None, language="de")
    assert "Sie" in german and " du " not in german.lower() and " dir " not in german


def test_other_languages_get_the_english_prompt_naming_their_language() -> None:
    prompt = personalities.system_prompt("humorous", custom_prompt=None, language="pt")
    assert prompt.startswith(personalities.BUILTIN["humorous"].prompt)
    assert prompt.endswith("Always answer in Portuguese, the language the user speaks.")
    assert personalities.reply_reminder("pt") == "(Reply in Portuguese.)"
    assert personalities.reply_reminder("it") == "(Rispondi in italiano.)"


def test_a_custom_prompt_is_kept_as_written_in_the_user_language() -> None:
    prompt = personalities.system_prompt(
        "custom", custom_prompt="  Parle comme un pirate. ", language="fr"
    )
    assert prompt.startswith("Parle comme un pirate. Tes réponses")
    assert prompt.endswith("Réponds toujours en français.")
