"""Saying when unsure (issue 25): the local model's own probabilities over its answer's first
clause, read while it writes them.

Measured by bench/confidence on the factual items of evals/questions.jsonl with the default
model: the mean log-probability of the first clause's tokens (up to the first , ; : . ! ?
followed by a space, at most CLAUSE_TOKENS tokens) separates wrong answers from right ones
best of the scores tried (AUROC 0.83); below -0.175 it marked 60 % of the wrong answers and
8 % of the right ones (docs/performance.md, "Saying when unsure").

Nothing is held back for it: the words stream as they come, the clause is scored once it is
complete, and the stream says `Unsure` there. The turn then adds "But I'm not sure about that."
at the end of the sentence (core/turns/hedge.py). A hedge in front of the answer would have
to wait for the clause, about ten tokens, where the voice starts after three words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

CLAUSE_TOKENS = 12  # a first clause longer than this is scored on its first tokens
_CLAUSE_END = re.compile(r"[,;:.!?](?=\s|$)")


@dataclass(frozen=True)
class Unsure:
    """Said by a model's stream once its first clause scored below its threshold."""

    score: float  # the clause's mean log-probability


@dataclass(frozen=True)
class DoubtRule:
    """Unsure when the first clause's mean log-probability is below `below`."""

    below: float


def clause_length(texts: list[str], *, complete: bool = True, following: str = "") -> int | None:
    """How many of an answer's tokens (their `texts`) its first clause takes: those that start
    before its closing mark, at most CLAUSE_TOKENS, at least one. None while it may go on (no
    mark followed by a space yet, in the texts or before the `following` text, and fewer
    tokens) unless the answer is `complete`."""
    text = "".join(texts)
    words = text.lstrip()
    known = words + following[:1]
    end = _CLAUSE_END.search(known)
    if end is not None and (
        end.start() >= len(words) or (not complete and end.end() == len(known))
    ):
        end = None  # a mark at the very end may yet be "3." of "3.5"
    if end is None and not complete and len(texts) < CLAUSE_TOKENS:
        return None
    cut = len(text) - len(words) + end.start() if end else len(text)
    starts, at = [], 0
    for piece in texts:
        starts.append(at)
        at += len(piece)
    inside = sum(start < cut for start in starts)
    return max(1, min(CLAUSE_TOKENS, inside))


class Meter:
    """A llama-cpp-python logits processor that leaves the logits alone and notes, at each
    step until the first clause is complete, the log-probability of the model's most likely
    token (temperature 1) and the text of the token chosen.

    The most likely token's, not the one sampled: the server samples (LLM_TEMPERATURE), and
    a sampled runner-up would read as doubt where the model had none; bench/confidence
    measured greedy answers, where the two are one. A processor sees a step before its token
    is sampled: the token shows at the next step, as the last of `input_ids`."""

    def __init__(self, detokenize: Callable[[list[int]], bytes]) -> None:
        self._detokenize = detokenize
        self.texts: list[str] = []
        self.logprobs: list[float] = []
        self._raw = b""  # the tokens' bytes: a character split across tokens waits
        self._steps = 0
        self._complete = False  # the first clause is known: nothing more to note

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self._complete:  # the rest of the answer passes untouched
            return scores
        if self._steps > len(self.texts):  # the token the last step chose
            done = self._raw.decode("utf-8", errors="ignore")
            self._raw += self._detokenize([int(input_ids[-1])])
            self.texts.append(self._raw.decode("utf-8", errors="ignore")[len(done) :])
        if clause_length(self.texts, complete=False) is not None:
            self._complete = True
            return scores
        logits = np.asarray(scores, dtype=np.float64)
        top = logits.max()
        self.logprobs.append(-float(np.log(np.exp(logits - top).sum())))
        self._steps += 1
        return scores

    def score(self, *, complete: bool, following: str = "") -> float | None:
        """The first clause's mean log-probability; None until the clause is known (its
        tokens noted, and the `following` text if any tells where it ends), and without a
        token."""
        if not self.texts:
            return None
        length = clause_length(self.texts, complete=complete, following=following)
        return float(np.mean(self.logprobs[:length])) if length else None


def scored(deltas: Iterator[str], meter: Meter, rule: DoubtRule) -> Iterator[str | Unsure]:
    """`deltas` as they come, and `Unsure` once a first clause that scored below the rule's
    threshold is complete: before the delta that shows it ended (" The" after "1961."), or at
    the end of an answer shorter than a clause. The meter notes a token one step after it is
    written: the delta in hand is the one token it has not seen."""
    decided = False
    for delta in deltas:
        if not decided:
            score = meter.score(complete=False, following=delta)
            if score is not None:
                decided = True
                yield from _verdict(score, rule)
        yield delta
    if not decided:
        yield from _verdict(meter.score(complete=True), rule)


def _verdict(score: float | None, rule: DoubtRule) -> Iterator[Unsure]:
    if score is not None and score < rule.below:
        yield Unsure(round(score, 3))
