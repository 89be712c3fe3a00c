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
from typing import Literal

Heard = Literal["question", "going on", "brief", "said"]
# A statement shorter than this is "brief": it may be how the turn starts, not all of it.
BRIEF_WORDS = 3

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
# Endings that ask for what comes next: "Can you tell me?" is how "Can you tell me how many
# legs a spider has?" starts, and Whisper writes the question mark at the pause.
_OPENERS = tuple(
    tuple(ending.split())
    for ending in (
        # English
        "tell me,show me,give me,explain,let me know,i wonder,i was wondering,do you know,"
        "i want to know,i would like to know,i'd like to know,"
        # French
        "dis-moi,dites-moi,explique-moi,expliquez-moi,je me demande,tu sais,vous savez,"
        # Spanish
        "dime,dígame,explícame,me pregunto,sabes,"
        # German
        "sag mir,sagen sie mir,erklär mir,ich frage mich,weißt du,wissen sie"
    ).split(",")
)


def sounds_unfinished(text: str) -> bool:
    """True when `text` plainly goes on: it ends on a comma, a dash or dots, or on a word that
    announces more ("and", "the", "um")."""
    text = text.strip()
    if not text or re.search(r"(,|;|:|-|–|—|\.\.|…)['\")\]»”’]*$", text):
        return bool(text)
    words = re.findall(r"[^\W\d_]+(?:['-][^\W\d_]+)*", text.lower())
    if not words:
        return False
    return words[-1] in _CONTINUATIONS or any(
        tuple(words[-len(opener) :]) == opener for opener in _OPENERS
    )


def heard(text: str) -> Heard:
    """What a pause's transcript says of the turn: a complete question, plainly going on, a
    word or two ("Okay.", "Wait, stop."), which people often say before the rest, or
    something else (a statement, which may or may not be all)."""
    if sounds_unfinished(text):
        return "going on"
    if sounds_finished(text):
        return "question"
    return "brief" if len(re.findall(r"[^\W_]+", text)) < BRIEF_WORDS else "said"


def sounds_finished(text: str) -> bool:
    """True when `text` ends like a complete question: a question mark after a word that does
    not announce more ("...and?", "Can you tell me?")."""
    return bool(_QUESTION.search(text.strip())) and not sounds_unfinished(text)
