"""A local model's choice between calling a tool and answering in words, made on its first
token, and the call then written under a grammar.

Measured on the bundled Qwen2.5 1.5B (docs/tools.md): it seldom opens a call with its own
`<tool_call>` token. Its wish to call shows as probability spread over tokens that open JSON
or a tag (`{"`, `{{`, `<`, a code fence), and a sampled or even greedy first token often
picks words while that spread is large ("45 times 12 is 540", a guessed time). So the first
step sums the probability of every token that could open a call. At or above a threshold the
pass ends there and the call is written again under a grammar that only a valid call of an
offered tool meets; below it, those tokens are barred and the answer streams on in words,
at no extra cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_OPENING = ("{", "<", "```")
NEVER = 2.0  # a threshold no probability reaches: words only, the openers barred


def call_openers(model: Any) -> np.ndarray:
    """The ids of the tokens that could open a call, in `model`'s vocabulary (a scan of the
    vocabulary, about a second for Qwen's 151k tokens; done once per model)."""
    ids = []
    for token in range(model.n_vocab()):
        piece = model.detokenize([token], special=True).decode("utf-8", "replace")
        if piece.lstrip().startswith(_OPENING):
            ids.append(token)
    return np.array(ids, dtype=np.intp)


class CallChoice:
    """A llama-cpp-python logits processor for the first step of an answer with tools on
    offer: `calling` says what it chose, `weight` the probability it saw for a call."""

    def __init__(self, openers: np.ndarray, end_token: int, threshold: float) -> None:
        self.openers = openers
        self.end_token = end_token
        self.threshold = threshold
        self.weight: float | None = None

    @property
    def calling(self) -> bool:
        return self.weight is not None and self.weight >= self.threshold

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.weight is not None:
            return scores
        shifted = np.exp(scores - scores.max())
        self.weight = float(shifted[self.openers].sum() / shifted.sum())
        if self.calling:
            scores[:] = -np.inf  # end this pass: the call is written under a grammar next
            scores[self.end_token] = 0.0
        else:
            scores[self.openers] = -np.inf  # words, not the start of a half-meant call
        return scores
