"""Whether the local model's own token probabilities over an answer's first clause tell its
right answers from its wrong ones (issue 25, part 2), measured in this process.

    python -m bench.confidence                   # ~7 min: the default model, every item
    python -m bench.confidence --env LOCAL_LLM=qwen2.5-0.5b
    python -m bench.confidence --limit 10        # the first 10 items only
    python -m bench.confidence --rescore bench/results/confidence.json   # no model: score again

The items are the single-turn questions of evals/questions.jsonl judged by expected words
(the factual ones); the follow-ups, recordings, statements (no expected words) and every item
the product answers with a computed fact (core/facts: arithmetic, the clock, and the factual
items that are sums) are left out. Each is asked as a new session asks it: the model loaded as
the server loads it (bench.first_token.load_direct_model), the system prompt of the default
personality in the language detected, the question; the answer is written greedily
(temperature 0, MAX_TOKENS tokens), and a logits processor reads the model's distribution at
every step: the log-probability of the token chosen and its margin over the second best.

The scores (bench/clause_scores): over the first clause (up to the first , ; : . ! ? followed
by a space or the end, at most CLAUSE_TOKENS tokens) and over its first content words, the
mean and the minimum log-probability and the mean margin. The answer is judged by
bench.quality's `judge` (expected words, answer language). Printed per language and overall:
items, accuracy, the AUROC of each score; for each score the threshold that hedges the most
wrong answers (score below it) while hedging at most 10 % of the right ones (bench/separation),
fitted on all items, and fitted on four languages then applied to the fifth (pooled: an
estimate on answers the threshold did not see); per language for the score of the best AUROC
and the one that hedges most. The issue ships hedging if at least half of the wrong answers
are hedged. Per-item results, every step, go to bench/results/confidence.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.clause_scores import Step, clause_length, content_steps, scores
from bench.common import Check, Result, write_result
from bench.quality import LANGUAGES, Item, judge, load_items
from bench.separation import (
    MAX_RIGHT_HEDGED,
    SHIP_WRONG_HEDGED,
    Threshold,
    auroc,
    best_threshold,
)
from core.llm.doubt import CLAUSE_TOKENS

NAME = "confidence"
CATEGORIES = ("factual",)  # single turn, judged by expected words
MAX_TOKENS = 64


class Recorder:
    """A llama-cpp-python logits processor that leaves the logits alone and notes, at each
    step, the token greedy decoding will pick (the highest logit: no penalty is set) with its
    log-probability and the second best's."""

    def __init__(self) -> None:
        self.picks: list[tuple[int, float, float]] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        logits = np.asarray(scores, dtype=np.float64)
        top = logits.max()
        log_total = top + np.log(np.exp(logits - top).sum())
        second, first = np.argpartition(logits, -2)[-2:]
        if logits[second] > logits[first]:
            first, second = second, first
        self.picks.append(
            (int(first), float(logits[first] - log_total), float(logits[second] - log_total))
        )
        return scores


def answer_steps(model: Any, messages: list[dict[str, str]]) -> tuple[str, list[Step], str]:
    """The greedy answer to `messages`, its steps (the end-of-turn token left out) and why it
    stopped ("stop" or "length")."""
    from llama_cpp import LogitsProcessorList

    recorder = Recorder()
    out = model.create_chat_completion(
        messages=messages,
        max_tokens=MAX_TOKENS,
        temperature=0.0,
        logits_processor=LogitsProcessorList([recorder]),
    )
    choice = out["choices"][0]
    ends = {model.token_eos(), *model.tokenize(b"<|im_end|>", add_bos=False, special=True)}
    picks = [p for p in recorder.picks if p[0] not in ends]
    steps, done, raw = [], "", b""
    for token, logprob, runner_up in picks:
        raw += model.detokenize([token])
        text = raw.decode("utf-8", errors="ignore")  # a character split across tokens waits
        steps.append(Step(text[len(done) :], logprob, logprob - runner_up))
        done = text
    answer = choice["message"]["content"] or ""
    if done.strip() != answer.strip():
        raise RuntimeError(f"The steps read {done!r}, the model answered {answer!r}")
    return answer, steps, str(choice["finish_reason"])


@dataclass(frozen=True)
class Row:
    """One item's answer, verdict and scores."""

    id: str
    language: str  # the item's
    prompt_language: str  # the one detected and asked in, as the server would
    question: str
    answer: str
    finish: str
    right: bool
    hedged_in_words: bool  # the answer already says it is unsure
    clause: str
    content: str
    scores: dict[str, float]
    steps: list[Step]


def row(item: Item, prompt_language: str, answer: str, steps: list[Step], finish: str) -> Row:
    question = item.turns[-1]
    verdict = judge(item, answer, 0.0, 0.0)
    clause = steps[: clause_length(steps)] if steps else []
    content = [steps[i].text for i in content_steps(steps, question)] if steps else []
    return Row(
        id=item.id,
        language=item.language,
        prompt_language=prompt_language,
        question=question,
        answer=answer,
        finish=finish,
        right=verdict.right,
        hedged_in_words=verdict.hedged,
        clause="".join(s.text for s in clause),
        content="".join(content),
        scores=scores(steps, question),
        steps=steps,
    )


def split(rows: list[Row], score: str) -> tuple[list[float], list[float]]:
    right = [r.scores[score] for r in rows if r.right]
    wrong = [r.scores[score] for r in rows if not r.right]
    return right, wrong


def _pooled(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def thresholds(rows: list[Row], groups: dict[str, list[Row]], score: str) -> dict[str, Any]:
    """For one score and each group: the threshold fitted on the group, the overall one
    applied to it, and (for a language) the one fitted on the other languages; the last pooled
    over the languages, an estimate that did not see the answers it hedges."""
    overall = best_threshold(*split(rows, score))
    entries: dict[str, Any] = {}
    held_right: list[bool] = []
    held_wrong: list[bool] = []
    for key, group in groups.items():
        right, wrong = split(group, score)
        fitted = best_threshold(right, wrong)
        entry = {
            "fitted": asdict(fitted) | {"ships": fitted.ships},
            "overall": asdict(overall.apply(right, wrong)),
        }
        if key != "overall" and len(groups) > 2:  # another language to fit on
            others = [r for r in rows if r.language != key]
            cut = best_threshold(*split(others, score)).value
            entry["held_out"] = asdict(Threshold(cut, None, None).apply(right, wrong))
            held_right += [v < cut for v in right]
            held_wrong += [v < cut for v in wrong]
        entries[key] = entry
    held = {"wrong_hedged": _pooled(held_wrong), "right_hedged": _pooled(held_right)}
    return {"groups": entries, "held_out": held}


def summary(rows: list[Row]) -> dict[str, Any]:
    """Accuracy and AUROCs per language and overall; every score's thresholds; the score
    that separates best (AUROC) and the one that hedges most under the issue's rule."""
    names = list(rows[0].scores)
    by_language = {code: [r for r in rows if r.language == code] for code in LANGUAGES}
    groups = {k: v for k, v in by_language.items() if v} | {"overall": rows}
    figures: dict[str, Any] = {"groups": {}}
    for key, group in groups.items():
        right = sum(r.right for r in group)
        aurocs = {s: auroc(*split(group, s)) for s in names}
        figures["groups"][key] = {
            "items": len(group),
            "right": right,
            "accuracy_pct": round(100 * right / len(group), 1),
            "hedged_in_words": sum(r.hedged_in_words for r in group),
            "auroc": {s: None if a is None else round(a, 3) for s, a in aurocs.items()},
        }
    figures["scores"] = {s: thresholds(rows, groups, s) for s in names}
    overall_auroc = figures["groups"]["overall"]["auroc"]

    def by_rule(score: str) -> tuple[float, float, float]:
        fitted = figures["scores"][score]["groups"]["overall"]["fitted"]
        hedged = (fitted["wrong_hedged"] or 0.0, -(fitted["right_hedged"] or 0.0))
        return (*hedged, overall_auroc[score] or 0.0)

    figures["best_auroc"] = max(names, key=lambda s: overall_auroc[s] or 0.0)
    figures["best_rule"] = best = max(names, key=by_rule)
    figures["ships"] = figures["scores"][best]["groups"]["overall"]["fitted"]["ships"]
    held = figures["scores"][best]["held_out"]
    figures["ships_held_out"] = Threshold(0.0, held["wrong_hedged"], held["right_hedged"]).ships
    return figures


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}"


def _cells(t: dict[str, Any] | None) -> str:
    """A threshold as printed: its value, wrong hedged %, right hedged %."""
    if t is None:
        return f"{'-':>8s} {'-':>6s} {'-':>6s}"
    return f"{t['value']:8.3f} {_pct(t['wrong_hedged']):>6s} {_pct(t['right_hedged']):>6s}"


def show(figures: dict[str, Any]) -> None:
    groups, scores = figures["groups"], figures["scores"]
    short = [s.replace("_logprob", "_lp").replace("_mean_margin", "_margin") for s in scores]
    print("\nAUROC of each score (a right answer scoring above a wrong one; 0.5 is chance):")
    head = " ".join(f"{s:>15s}" for s in short)
    print(f"{'':8s} {'n':>3s} {'right':>5s} {'acc%':>5s} {'hedged':>6s} {head}")
    for key, g in groups.items():
        cells = " ".join(f"{'-' if a is None else f'{a:.3f}':>15s}" for a in g["auroc"].values())
        counts = f"{g['items']:3d} {g['right']:5d} {g['accuracy_pct']:5.1f}"
        print(f"{key:8s} {counts} {g['hedged_in_words']:6d} {cells}")
    print("\nhedged below a threshold fitted on all items / on the other languages (pooled):")
    print(f"{'':20s} {'AUROC':>5s} {'t':>8s} {'wrong%':>6s} {'right%':>6s}   {'wrong%':>6s} right%")
    for score, found in scores.items():
        fitted, held = found["groups"]["overall"]["fitted"], found["held_out"]
        held_cells = f"{_pct(held['wrong_hedged']):>6s} {_pct(held['right_hedged']):>6s}"
        auc = groups["overall"]["auroc"][score]
        print(f"{score:20s} {auc:5.3f} {_cells(fitted)}   {held_cells}")
    for label, score in (("best AUROC", figures["best_auroc"]), ("best by the rule", None)):
        score = score or figures["best_rule"]
        if label != "best AUROC" and score == figures["best_auroc"]:
            continue
        print(f"\n{label}: {score}, hedged when below the threshold")
        print(f"{'':9s}{'fitted on this group':26s}ships {'overall t':19s}fitted on the others")
        t_head = f"{'t':>8s} {'wrong%':>6s} {'right%':>6s}"
        print(f"{'':8s} {t_head}       {'wrong%':>6s} {'right%':>6s}      {t_head}")
        for key, entry in scores[score]["groups"].items():
            fitted, overall = entry["fitted"], entry["overall"]
            ships = "yes" if fitted["ships"] else "no"
            applied = f"{_pct(overall['wrong_hedged']):>6s} {_pct(overall['right_hedged']):>6s}"
            held_out = _cells(entry.get("held_out"))
            print(f"{key:8s} {_cells(fitted)} {ships:>5s} {applied}      {held_out}")
    rule = f">= {SHIP_WRONG_HEDGED:.0%} of wrong answers hedged, <= {MAX_RIGHT_HEDGED:.0%} of right"
    print(f"\nship criterion ({rule}), overall, {figures['best_rule']}:")
    print(f"  threshold fitted on all items: {'met' if figures['ships'] else 'NOT met'}")
    held = "met" if figures["ships_held_out"] else "NOT met"
    print(f"  each language at the threshold fitted on the other four: {held}")


def items_to_ask(items: list[Item], zone: str, default: str) -> list[tuple[Item, str]]:
    """The items measured, each with the language the server would ask it in; those the
    product answers with a computed fact are left out."""
    from core import language
    from core.facts import find_fact

    chosen = []
    for item in items:
        if item.category not in CATEGORIES or len(item.turns) != 1 or item.recording:
            continue
        lang = language.detect(item.turns[0], fallback=default)
        if find_fact(item.turns[0], language=lang, time_zone=zone, settled=False) is None:
            chosen.append((item, lang))
    return chosen


def result(rows: list[Row], model: str, seconds: float) -> Result:
    figures = summary(rows)
    show(figures)
    outcome = Result(NAME)
    best = figures["scores"][figures["best_rule"]]
    wrong_hedged = best["groups"]["overall"]["fitted"]["wrong_hedged"]
    missed = 100.0 if wrong_hedged is None else round(100 * (1 - wrong_hedged), 1)
    outcome.checks.append(
        Check(
            f"wrong answers left unhedged at <= {MAX_RIGHT_HEDGED:.0%} right hedged (overall)",
            missed,
            100 * (1 - SHIP_WRONG_HEDGED),
            "%",
        )
    )
    outcome.figures = {
        "model": model,
        "max_tokens": MAX_TOKENS,
        "clause_tokens": CLAUSE_TOKENS,
        "run_s": round(seconds),
        **figures,
        "items": [asdict(r) for r in rows],
    }
    return outcome


def run(env: dict[str, str], limit: int | None, progress: Callable[[str], None]) -> Result:
    from bench.first_token import load_direct_model, messages_for

    os.environ.update(env)  # read by Settings, as the server's environment would be
    model, settings = load_direct_model()
    asked = items_to_ask(load_items(), settings.time_zone, settings.default_language)[:limit]
    rows: list[Row] = []
    started = time.perf_counter()
    for n, (item, lang) in enumerate(asked, 1):
        answer, steps, finish = answer_steps(model, messages_for(item.turns[0], lang))
        rows.append(row(item, lang, answer, steps, finish))
        r = rows[-1]
        mark = "ok  " if r.right else "MISS"
        lp = r.scores.get("clause_mean_logprob", float("nan"))
        progress(f"{n:3d}/{len(asked)} {mark} {item.id:16s} {lp:7.3f} {answer[:80]!r}")
    return result(rows, settings.local_llm.value, time.perf_counter() - started)


def rescore(path: Path) -> Result:
    """Score and judge the answers of an earlier run again, with no model."""
    data = json.loads(path.read_text())["figures"]
    items = {item.id: item for item in load_items()}
    rows = [
        row(
            items[r["id"]],
            r["prompt_language"],
            r["answer"],
            [Step(**s) for s in r["steps"]],
            r["finish"],
        )
        for r in data["items"]
    ]
    return result(rows, data["model"], data["run_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items")
    parser.add_argument("--rescore", type=Path, help="score a result file again instead")
    args = parser.parse_args()
    if args.rescore:
        write_result(rescore(args.rescore))
        return
    env = dict(item.split("=", 1) for item in args.env)
    write_result(run(env, args.limit, lambda line: print(line, flush=True)))


if __name__ == "__main__":
    main()
