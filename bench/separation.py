"""How well a score separates right answers from wrong ones: the AUROC, and the threshold
below which an answer is said as unsure under issue 25's rule (bench/confidence)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_RIGHT_HEDGED = 0.10  # the bound on right answers said as unsure
SHIP_WRONG_HEDGED = 0.50  # ... and the share of wrong ones that must be hedged


def auroc(right: list[float], wrong: list[float]) -> float | None:
    """The chance that a right answer scores above a wrong one (ties count half)."""
    if not right or not wrong:
        return None
    wins = sum((r > w) + 0.5 * (r == w) for r in right for w in wrong)
    return wins / (len(right) * len(wrong))


@dataclass(frozen=True)
class Threshold:
    """Hedge an answer whose score is below `value`: the shares of wrong and right hedged."""

    value: float
    wrong_hedged: float | None  # None: no wrong answer to hedge
    right_hedged: float | None

    @property
    def ships(self) -> bool:
        """Whether it meets the issue's rule: enough wrong answers hedged, few right ones."""
        if self.wrong_hedged is None or (self.right_hedged or 0.0) > MAX_RIGHT_HEDGED:
            return False
        return self.wrong_hedged >= SHIP_WRONG_HEDGED

    def apply(self, right: list[float], wrong: list[float]) -> Threshold:
        return Threshold(self.value, _share(wrong, self.value), _share(right, self.value))


def _share(values: list[float], below: float) -> float | None:
    return sum(v < below for v in values) / len(values) if values else None


def best_threshold(right: list[float], wrong: list[float]) -> Threshold:
    """The threshold that hedges the most wrong answers while hedging at most
    MAX_RIGHT_HEDGED of the right ones (fewest right hedged among equals); it lies halfway
    between two neighbouring scores."""
    values = sorted(set(right + wrong))
    if not values:
        return Threshold(0.0, None, None)
    cuts = [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)]
    best: Threshold | None = None
    for cut in cuts + [values[-1] + 1.0]:
        found = Threshold(cut, _share(wrong, cut), _share(right, cut))
        if (found.right_hedged or 0.0) > MAX_RIGHT_HEDGED:
            continue
        key = ((found.wrong_hedged or 0.0), -(found.right_hedged or 0.0))
        if best is None or key > ((best.wrong_hedged or 0.0), -(best.right_hedged or 0.0)):
            best = found
    assert best is not None  # the lowest cut hedges nothing
    return best
