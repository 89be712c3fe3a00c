"""What an answer the model doubts says (core/llm/doubt.py decides), in the user's language.

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


def caveat(language: str) -> str:
    return CAVEATS.get(language, CAVEATS["en"])


def between_sentences(text: str, following: str) -> bool:
    """Whether `following` begins a new sentence after `text`: the text ends one ("1961.",
    not "3." of "3.5", which the next piece continues without a space)."""
    return bool(following[:1].isspace() and _SENTENCE_END.search(text))
