"""Saying when unsure (issue 25): the local model's own probabilities over an answer's first
tokens, read while it writes them.

Measured by bench/confidence on the factual items of evals/questions.jsonl, default model: a
wrong answer's first tokens are, on average, less likely under the model than a right one's
(docs/performance.md, "Saying when unsure"). Below a threshold, the model's stream says so
with `Unsure` before its first words, and the turn puts "I'm not sure, but I think" in front
(core/turns/hedge.py). The first tokens are held until they are scored: a few tokens, fewer
than the speaking path waits for anyway before its first cut (three words).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

# How many first tokens are scored (bench/confidence: the window that separated best among
# those shorter than the speaking path's first cut).
DOUBT_TOKENS = 5


@dataclass(frozen=True)
class Unsure:
    """Yielded by a model's stream before its first words: they scored below its threshold."""

    score: float  # the mean log-probability of the first tokens


@dataclass(frozen=True)
class DoubtRule:
    """Hedge an answer whose first `tokens` tokens have a mean log-probability below `below`."""

    tokens: int
    below: float


class Meter:
    """A llama-cpp-python logits processor that leaves the logits alone and notes each chosen
    token's log-probability under the model (temperature 1), up to `tokens` of them.

    A processor sees a step's distribution before the token is sampled; the token shows at
    the next step, as the last of `input_ids`. So a token's figure is known one step later,
    and the step's logits are kept until then (one vocabulary's worth, about 0.6 MB)."""

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.logprobs: list[float] = []
        self._pending: tuple[Any, float] | None = None  # the last step's logits, log-sum

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self._pending is not None:
            logits, log_total = self._pending
            self.logprobs.append(float(logits[int(input_ids[-1])]) - log_total)
            self._pending = None
        if len(self.logprobs) < self.tokens:
            logits = np.array(scores, dtype=np.float64)
            top = logits.max()
            self._pending = (logits, float(top + np.log(np.exp(logits - top).sum())))
        return scores

    @property
    def done(self) -> bool:
        return len(self.logprobs) >= self.tokens

    def score(self) -> float | None:
        return float(np.mean(self.logprobs)) if self.logprobs else None


def held_until_scored(
    deltas: Iterator[str], meter: Meter, rule: DoubtRule
) -> Iterator[str | Unsure]:
    """`deltas` as they come, except that the first ones wait until the meter has scored the
    first tokens (or the answer ended): then `Unsure` first if the score is below the rule's
    threshold, and the words held."""
    held: list[str] | None = []
    for delta in deltas:
        if held is None:
            yield delta
            continue
        held.append(delta)
        if meter.done:
            yield from _verdict(held, meter, rule)
            held = None
    if held:
        yield from _verdict(held, meter, rule)


def _verdict(held: list[str], meter: Meter, rule: DoubtRule) -> Iterator[str | Unsure]:
    score = meter.score()
    if score is not None and score < rule.below:
        yield Unsure(round(score, 3))
    yield from held
