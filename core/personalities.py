"""The agent's personalities: each one is a system prompt, plus one a user writes."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import InvalidInputError
from core.language import language_name

__all__ = ["BUILTIN", "CUSTOM", "Personality", "language_name", "system_prompt", "validate"]

CUSTOM = "custom"
MAX_CUSTOM_PROMPT = 2000

# Answers are spoken aloud, so every personality asks for short plain sentences.
_SPOKEN = (
    "Your answers are read aloud by a speech synthesizer: keep them short (one to three "
    "sentences unless asked for more), with no markdown, lists, code or emoji."
)


@dataclass(frozen=True)
class Personality:
    name: str
    description: str
    prompt: str


BUILTIN: dict[str, Personality] = {
    p.name: p
    for p in (
        Personality(
            "formal",
            "Polite, precise and professional.",
            "You are a courteous, professional voice assistant. Answer precisely and politely, "
            "in complete sentences, without slang or jokes.",
        ),
        Personality(
            "casual",
            "Friendly and relaxed, like a helpful friend.",
            "You are a friendly, relaxed voice assistant. Answer warmly and simply, the way a "
            "helpful friend would talk.",
        ),
        Personality(
            "humorous",
            "Helpful, with a light joke or playful remark.",
            "You are a witty, cheerful voice assistant. Answer helpfully and add a light joke or "
            "a playful remark, keeping the facts right.",
        ),
    )
}


def validate(personality: str, custom_prompt: str | None = None) -> str:
    """Return `personality` if it is known (and, for `custom`, has a prompt), else raise."""
    if personality in BUILTIN:
        return personality
    if personality == CUSTOM:
        if not custom_prompt or not custom_prompt.strip():
            raise InvalidInputError("The custom personality needs a prompt (custom_prompt).")
        return personality
    names = ", ".join([*BUILTIN, CUSTOM])
    raise InvalidInputError(f"Unknown personality '{personality}'. Choose one of: {names}.")


def system_prompt(personality: str, *, custom_prompt: str | None, language: str) -> str:
    """The system prompt for one turn: personality, spoken style, and the answer's language."""
    if personality == CUSTOM and custom_prompt:
        base = custom_prompt.strip()[:MAX_CUSTOM_PROMPT]
    else:
        base = BUILTIN.get(personality, BUILTIN["casual"]).prompt
    name = language_name(language)
    return f"{base} {_SPOKEN} Always answer in {name}, the language the user speaks."
