"""What an answer the model doubts says (core/llm/doubt.py decides), in the user's language,
and to what: a question. A reply to "I finished my first book" has no fact to doubt, and its
first clause ("Congratulations!") is as unlikely under the model as a wrong fact's.

The words have streamed already when the first clause is scored, so the doubt comes after
the sentence it is about, as a person adds it: "The Berlin Wall fell in 1961. But I'm not
sure about that." At the end of the answer if no sentence ends first.
"""

from __future__ import annotations

import re

CAVEATS = {
    "en": " But I'm not sure about that.",
    "fr": " Mais je ne suis pas sûr de cela.",
    "es": " Pero no estoy seguro de eso.",
    "de": " Aber ich bin mir nicht sicher, ob das stimmt.",
    "it": " Però non sono sicuro che sia così.",
}
_SENTENCE_END = re.compile(r"[.!?…][\"'»)\]]*$")
# How a question begins, for a transcript without its "?" (accents as written).
_ASKING = re.compile(
    r"^\W*(who|what|when|where|which|why|how|is|are|was|were|do|does|did|can|could|"
    r"qui|que|quoi|quel|quelle|quels|quelles|quand|où|pourquoi|comment|combien|est-ce|"
    r"quién|quiénes|qué|cuál|cuáles|cuándo|dónde|por qué|cómo|cuánto|cuántos|cuántas|"
    r"wer|was|wann|wo|welche|welcher|welches|warum|wie|wieviel|wie viele|"
    r"chi|che|cosa|quale|quali|quando|dove|perché|come|quanto|quanti|quante)\b",
    re.IGNORECASE,
)


def asks(text: str) -> bool:
    """Whether the user's message is a question: it has a "?" or begins like one."""
    return "?" in text or bool(_ASKING.match(text.strip()))


def caveat(language: str) -> str:
    return CAVEATS.get(language, CAVEATS["en"])


def between_sentences(text: str, following: str) -> bool:
    """Whether `following` begins a new sentence after `text`: the text ends one ("1961.",
    not "3." of "3.5", which the next piece continues without a space)."""
    return bool(following[:1].isspace() and _SENTENCE_END.search(text))
