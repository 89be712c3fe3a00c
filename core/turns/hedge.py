"""The words an unsure answer begins with, in the user's language (core/llm/doubt.py decides).

"I'm not sure, but I think" goes in front of the model's own first words, which then continue
the sentence: their first letter is lowered when they begin with a word that is not a name
(an article, a pronoun); French elides "que" before a vowel.
"""

from __future__ import annotations

HEDGES = {
    "en": "I'm not sure, but I think ",
    "fr": "Je ne suis pas sûr, mais je crois que ",
    "es": "No estoy seguro, pero creo que ",
    "de": "Ich bin mir nicht sicher, aber ich glaube, ",
    "it": "Non sono sicuro, ma forse ",
}
# Words that may open an answer and are lowered after the hedge ("The" -> "the"). Names are
# not, and neither is German "Sie" (formal "you") nor English "I".
LOWERED = {
    "en": {"the", "a", "an", "it", "this", "that", "there", "these", "those", "he", "she",
           "they", "its", "his", "her", "their", "in", "on", "at", "about", "yes", "no"},
    "fr": {"le", "la", "les", "l'", "un", "une", "des", "il", "elle", "ils", "elles", "c'est",
           "ce", "cette", "en", "au", "oui", "non"},
    "es": {"el", "la", "los", "las", "un", "una", "unos", "unas", "es", "está", "en", "sí",
           "no", "este", "esta", "eso", "hay"},
    "de": {"der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "es", "er",
           "diese", "dieser", "dieses", "in", "im", "am", "ja", "nein"},
    "it": {"il", "lo", "la", "i", "gli", "le", "un", "uno", "una", "è", "in", "nel", "nella",
           "sì", "no", "questo", "questa"},
}  # fmt: skip
_VOWELS = "aeiouhâàéèêîïôûAEIOUHÂÀÉÈÊÎÏÔÛ"


def hedged(language: str, first: str) -> str:
    """`first`, an answer's first words, with the hedge of `language` in front."""
    hedge = HEDGES.get(language, HEDGES["en"])
    words = first.lstrip()
    if not words:
        return hedge
    opener = words.split(maxsplit=1)[0].lower().rstrip(",.!?;:")
    lowered = LOWERED.get(language, LOWERED["en"])
    if opener in lowered or opener.split("'")[0] + "'" in lowered:
        words = words[0].lower() + words[1:]
    if language == "fr" and words[0] in _VOWELS:
        hedge = hedge[: -len("que ")] + "qu'"
    return hedge + words
