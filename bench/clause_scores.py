"""What an answer's token probabilities say over its first clause: the clause and its first
content words found in the tokens, and the candidate confidence scores (bench/confidence)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bench.quality import plain
from core.llm import doubt

FIRST_TOKENS = (3, 4, 5, 6, 8)
# Words that say nothing about the answer: articles, prepositions, copulas, pronouns.
FUNCTION_WORDS = frozenset(
    """
    a an the is are was were be been it its of in on at to and or by for with from that this
    as has have had he she they there which who what i you my your sure yes no about around
    do does did can will
    der die das den dem des ein eine einen einem einer ist sind war von vom im am an zu zum zur
    und oder mit fur es er sie auf aus bei ja nein etwa ungefahr hat haben wurde wurden gibt
    el la los las un una es son fue de del en y o con por para que se su al lo si ha han hay
    le les une est sont etait du des et ou avec par pour qui il elle c l d s j n qu oui ete ont
    lo gli uno e sono era di del della dello dei degli nel nella con per che si al alla ha
    hanno stato stata fu ci
    """.split()
)


@dataclass(frozen=True)
class Step:
    """One token of an answer: its text, log-probability, and margin over the runner-up."""

    text: str
    logprob: float
    margin: float


def _spans(steps: list[Step]) -> list[tuple[int, int]]:
    spans, at = [], 0
    for step in steps:
        spans.append((at, at + len(step.text)))
        at += len(step.text)
    return spans


def clause_length(steps: list[Step]) -> int:
    """How many steps the first clause takes, as the product counts them (core/llm/doubt.py)."""
    return doubt.clause_length([step.text for step in steps]) or 1


def _same_word(a: str, b: str) -> bool:
    """Whether two words are one word's forms, loosely: one begins the other (at least three
    letters: "boil", "boils") or they begin alike ("Deutschlands", "Deutschland")."""
    short, long = sorted((a, b), key=len)
    if len(short) < 3:
        return short == long
    return long.startswith(short) if len(short) < 5 else long[:5] == short[:5]


def content_steps(steps: list[Step], question: str) -> list[int]:
    """The steps of the first clause's first content words: the first word neither in the
    question nor a function word, and the content words right after it."""
    clause = steps[: clause_length(steps)]
    text = "".join(step.text for step in clause)
    asked = re.findall(r"\w+", plain(question))
    words = [(m.start(), m.end(), plain(m.group())) for m in re.finditer(r"\w+", text)]
    chosen: list[tuple[int, int]] = []
    for start, end, word in words:
        content = word not in FUNCTION_WORDS and not any(_same_word(word, a) for a in asked)
        if content:
            chosen.append((start, end))
        elif chosen:
            break
    return [
        i
        for i, (start, end) in enumerate(_spans(clause))
        if any(start < w_end and end > w_start for w_start, w_end in chosen)
    ]


def scores(steps: list[Step], question: str) -> dict[str, float]:
    """The candidate confidence scores of an answer (higher: surer). With no content word in
    the first clause, the content scores are the clause's."""
    if not steps:
        return {}
    clause = steps[: clause_length(steps)]
    content = [steps[i] for i in content_steps(steps, question)] or clause
    figures = {}
    for part, chosen in (("clause", clause), ("content", content)):
        figures[f"{part}_mean_logprob"] = float(np.mean([s.logprob for s in chosen]))
        figures[f"{part}_min_logprob"] = min(s.logprob for s in chosen)
        figures[f"{part}_mean_margin"] = float(np.mean([s.margin for s in chosen]))
    # The first few tokens, whatever they say: what could be scored before the speaking path's
    # first cut (three words), so that a hedge in front of the answer would cost no wait.
    for count in FIRST_TOKENS:
        figures[f"first{count}_mean_logprob"] = float(np.mean([s.logprob for s in steps[:count]]))
    return figures
