"""Whether a transcript sounds like a finished turn: the cheap half of end-of-turn detection.

The VAD knows when the voice stopped, not whether the speaker is done. The speculative
transcript (made during the pause anyway) tells more: a question is a turn that waits for an
answer, so it ends after a short silence; anything else ("I am planning a picnic." with more to
come, "I would like to know, um") waits for the full stop silence. Statements are not trusted:
people pause between sentences for as long as it takes Whisper to transcribe the first one,
and an answer that starts in that pause is a false start.
"""

from __future__ import annotations

import re

_QUESTION = re.compile(r"[?？]['\")\]»”’]*$")
# Words after which a speaker is rarely done, in the languages the agent speaks best.
_CONTINUATIONS = frozenset(
    # English
    "and or but so because then if that the a an to of with for um uh er like "
    # French
    "et ou mais donc parce que le la les un une de des du pour avec euh "
    # Spanish
    "y o pero entonces porque que el los las una del para con eh "
    # German
    "und oder aber weil dass der die das ein eine mit für äh".split()
)


def sounds_finished(text: str) -> bool:
    """True when `text` ends like a complete question: a question mark after a word that does
    not announce more."""
    text = text.strip()
    if not text or not _QUESTION.search(text):
        return False
    words = re.findall(r"[^\W\d_]+", text.lower())
    return bool(words) and words[-1] not in _CONTINUATIONS
