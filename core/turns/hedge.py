"""What an answer the model doubts says (core/llm/doubt.py decides), in the user's language,
and to what: a question. A reply to "I finished my first book" has no fact to doubt, and its
first clause ("Congratulations!") is as unlikely under the model as a wrong fact's.

The words have streamed already when the first clause is scored, so the doubt comes after
the sentence it is about, as a person adds it: "The Berlin Wall fell in 1961. But I'm not
sure about that." At the end of the answer if no sentence ends first.
"""

from __future__ import annotations

import re
import sys

from core.tts.text import SentenceBuffer

CAVEATS = {
    "en": " But I'm not sure about that.",
    "fr": " Mais je ne suis pas sûr de cela.",
    "es": " Pero no estoy seguro de eso.",
    "de": " Aber ich bin mir nicht sicher, ob das stimmt.",
    "it": " Però non sono sicuro che sia così.",
}
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
    """Whether `following` begins a new sentence after `text`, by the speaking path's own
    rule (core/tts/text.py): "1961." before " Sie" ends one; "3." before "5", "Dr." before
    " Smith" do not."""
    if not following[:1].isspace():
        return False
    sentences = SentenceBuffer(clause_min=sys.maxsize, max_chars=sys.maxsize)  # no clauses
    return bool(sentences.feed(text + following)) and sentences.pending == following
