"""The local model's first-token choice between a tool call and words."""

from __future__ import annotations

import numpy as np

from core.llm.tool_choice import CallChoice

OPENERS = np.array([1, 2], dtype=np.intp)  # say, `{"` and `<`
END = 9


def logits(probabilities: list[float]) -> np.ndarray:
    return np.log(np.array(probabilities, dtype=np.float64))


def test_enough_weight_on_call_openers_ends_the_pass_for_a_call() -> None:
    choice = CallChoice(OPENERS, END, threshold=0.1)
    scores = logits([0.80, 0.06, 0.06, 0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01])
    out = choice(None, scores)
    assert choice.calling and abs((choice.weight or 0) - 0.12) < 1e-9
    assert int(np.argmax(out)) == END and np.isneginf(np.delete(out, END)).all()


def test_little_weight_bars_the_openers_and_leaves_the_words_alone() -> None:
    choice = CallChoice(OPENERS, END, threshold=0.1)
    scores = logits([0.80, 0.04, 0.05, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01])
    words = scores.copy()
    out = choice(None, scores)
    assert not choice.calling
    assert np.isneginf(out[OPENERS]).all()
    keep = [0, 3, 4, 5, 6, 7, 8, 9]
    assert np.array_equal(out[keep], words[keep])


def test_only_the_first_step_is_touched() -> None:
    choice = CallChoice(OPENERS, END, threshold=0.1)
    choice(None, logits([0.9] + [0.1 / 9] * 9))
    later = logits([0.1] * 10)
    assert np.array_equal(choice(None, later.copy()), later)
