"""What the computed facts (core/facts) cost a turn, measured in this process.

    python -m bench.facts              # ~2 min: reading messages, then the note's first-token cost
    python -m bench.facts --no-model   # seconds: reading messages only

1. Reading: every turn of evals/questions.jsonl goes through `find_fact` (what every typed
   message pays before the model starts), ROUNDS times; microseconds per message, apart for
   messages that ask for a fact and those that do not; the check of an answer at its end
   (`words_to_add`) on the arithmetic and clock items; the first call of the process (loading
   text2num, compiling the patterns) on its own.
2. The note: for each arithmetic and clock item, the bundled model (loaded as the server
   loads it) is timed to its first token on the prompt a new session sends, without the note
   and with it, in turn; another message is read in between, so only the system prompt is in
   the cache, as for a new typed question; a round during which other processes used the
   machine is run again (bench/noise.py). The difference is what a fact turn pays when its
   prompt was not read ahead; the live conversation reads the note ahead with the rest
   (`Agent.prefill`).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from bench.common import Check, Result, median, percentile, write_result
from bench.noise import quiet_rounds
from bench.quality import FACT_CATEGORIES, Item, fact_triggers, load_items

NAME = "facts"
ROUNDS = 20
TARGET_READ_P95_US = 1000.0  # reading a message must stay far below a model's millisecond
ZONE = "Europe/Paris"


def _us(values: list[float]) -> dict[str, float]:
    return {
        "p50_us": round(median(values) * 1e6, 1),
        "p95_us": round(percentile(values, 95) * 1e6, 1),
        "max_us": round(max(values) * 1e6, 1),
    }


def reading(items: list[Item]) -> dict[str, Any]:
    """Microseconds `find_fact` takes per message, and `words_to_add` per answer."""
    from core.facts import find_fact, words_to_add

    turns = [(turn, item.language) for item in items for turn in item.turns]
    start = time.perf_counter()
    find_fact(turns[0][0], language=turns[0][1], time_zone=ZONE)
    first_call = time.perf_counter() - start
    with_fact: list[float] = []
    without: list[float] = []
    checks: list[float] = []
    for _ in range(ROUNDS):
        for text, language in turns:
            start = time.perf_counter()
            fact = find_fact(text, language=language, time_zone=ZONE)
            (with_fact if fact else without).append(time.perf_counter() - start)
            if fact is not None:
                answer = f"{text} {fact.sentence}"  # an answer that says the value
                start = time.perf_counter()
                words_to_add(fact, answer)
                checks.append(time.perf_counter() - start)
    return {
        "messages": len(turns),
        "first_call_ms": round(first_call * 1000, 1),
        "read_with_fact": _us(with_fact),
        "read_without_fact": _us(without),
        "read_all": _us(with_fact + without),
        "answer_check": _us(checks),
    }


def note_cost(items: list[Item]) -> dict[str, Any]:
    """Milliseconds to the first token without and with the note, and their difference."""
    from bench.first_token import load_direct_model, messages_for
    from core.facts import find_fact

    model, settings = load_direct_model()

    def first_token(messages: list[dict[str, str]]) -> float:
        start = time.perf_counter()
        chunks = model.create_chat_completion(
            messages=messages, max_tokens=8, temperature=0.0, stream=True
        )
        try:
            for chunk in chunks:
                if chunk["choices"][0]["delta"].get("content"):
                    return time.perf_counter() - start
        finally:
            chunks.close()
        raise RuntimeError("llama.cpp produced no content")

    pairs = []
    for item in items:
        fact = find_fact(item.turns[-1], language=item.language, time_zone=ZONE)
        if item.category in FACT_CATEGORIES and fact is not None:
            pairs.append((item.turns[-1], fact.note, fact.language))

    def one_round(n: int) -> tuple[float, float, int]:
        text, note, language = pairs[n]
        variants = [text, f"{text}\n\n{note}"]
        times = {}
        for content in variants if n % 2 else reversed(variants):
            first_token(messages_for("Hello there, how are you?", language))  # a reset
            times[content] = first_token(messages_for(content, language))
        tokens = len(model.tokenize(f"\n\n{note}".encode(), add_bos=False))
        return times[variants[0]], times[variants[1]], tokens

    rounds = quiet_rounds(len(pairs), one_round, [os.getpid()])
    plain = [round_[0] for round_ in rounds.values]
    noted = [round_[1] for round_ in rounds.values]
    difference = [b - a for a, b in zip(plain, noted, strict=True)]
    return {
        "model": settings.local_llm.value,
        "prompts": len(plain),
        "noisy_rounds_kept": rounds.noisy,
        "rounds_discarded": rounds.discarded,
        "note_tokens_p50": median([float(round_[2]) for round_ in rounds.values]),
        "first_token_without_note_p50_ms": round(median(plain) * 1000, 1),
        "first_token_with_note_p50_ms": round(median(noted) * 1000, 1),
        "note_adds_p50_ms": round(median(difference) * 1000, 1),
        "note_adds_p95_ms": round(percentile(difference, 95) * 1000, 1),
    }


def run(with_model: bool) -> Result:
    items = load_items()
    result = Result(NAME)
    figures: dict[str, Any] = {"reading": reading(items)}  # first: its first call is cold
    figures["triggers"] = fact_triggers(items)
    if with_model:
        figures["note"] = note_cost(items)
    for part, values in figures.items():
        print(f"{part}:")
        for key, value in values.items():
            print(f"  {key}: {value}")
    result.figures = figures
    p95 = figures["reading"]["read_all"]["p95_us"]
    result.checks.append(Check("read a message, p95", p95, TARGET_READ_P95_US, "us"))
    false = figures["triggers"]["false_triggers"]
    result.checks.append(Check("false triggers on the other items", false, 0, ""))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-model", action="store_true", help="only the reading cost")
    args = parser.parse_args()
    write_result(run(with_model=not args.no_model))


if __name__ == "__main__":
    main()
