"""Answer quality on the evaluation set (evals/questions.jsonl), through the real server.

    python -m bench.quality                                  # the default local configuration
    python -m bench.quality --env LOCAL_LLM_PATH=/path.gguf  # any setting, e.g. another model
    python -m bench.quality --env GROQ_API_KEY=gsk_...        # a cloud provider, to compare
    python -m bench.quality --personality humorous           # another personality
    python -m bench.quality --app-dir /tmp/base --label base  # another checkout's app (a baseline)
    python -m bench.quality --category arithmetic --category clock   # some categories only

Each item is a new session: factual questions in five languages, statements that need a reply
(repeating the user's words back fails), follow-ups that need the history (some in another
language than the question before them), recordings
(spoken by Piper, uploaded, answered) followed by a question about what was said, arithmetic
asked in words and digits, and questions about the time, the date and the year. An answer is
right when it holds one of the expected words (accents and case ignored; a city's or planet's
common international name counts, "Vienna" in a Spanish answer; for the clock, the words are
read from this machine's clock in the server's time zone while the answer is written) and is
in the item's language. A wrong answer that does not hedge ("I'm not sure") is confidently
wrong. Prints accuracy per category and per language (per language for arithmetic and the
clock too), the answer-language rate, the confidently wrong rate, the echoes, the computed
facts (core/facts) found on those items and falsely on every other, and the latency; writes
every answer to bench/results/quality*.json.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import time
import unicodedata
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    REPO,
    Result,
    median,
    percentile,
    running_server,
    speech_bytes,
    stream_response,
    write_result,
)
from bench.expected import clock_words, hedged

EVALS = REPO / "evals" / "questions.jsonl"
ECHO_RATIO = 0.6  # an answer this similar to the user's statement repeats it
FACT_CATEGORIES = ("arithmetic", "clock")  # answered with a computed fact (core/facts)


@dataclass(frozen=True)
class Item:
    id: str
    category: str  # factual, statement, followup, upload, arithmetic, clock
    language: str
    turns: list[str]
    expect_any: list[str]
    recording: str | None = None
    expect: str | None = None  # "time", "date" or "year": words read from the clock instead


@dataclass(frozen=True)
class Verdict:
    id: str
    category: str
    language: str
    question: str
    answer: str
    answer_language: str | None  # None: too short to tell
    right_words: bool
    right_language: bool
    echo: bool
    first_token_s: float
    total_s: float
    loop_stopped: bool = False  # the answer was cut as a repetition loop (core/llm/repetition)
    hedged: bool = False  # the answer says it is unsure
    asked_at: float = 0.0  # Unix seconds when the last turn was sent (for the clock's words)

    @property
    def right(self) -> bool:
        return self.right_words and self.right_language and not self.echo

    @property
    def confidently_wrong(self) -> bool:
        return not self.right and not self.hedged


def load_items(path: Path = EVALS) -> list[Item]:
    with path.open(encoding="utf-8") as lines:
        return [Item(**json.loads(line)) for line in lines if line.strip()]


def plain(text: str) -> str:
    """Lower case, accents and apostrophe kinds removed: what expected words are matched in."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'"))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def holds_any(answer: str, expected: list[str]) -> bool:
    """Whether `answer` holds one of the expected words or phrases, as whole words."""
    text = plain(answer)
    return any(re.search(rf"(?<!\w){re.escape(plain(word))}(?!\w)", text) for word in expected)


def is_echo(answer: str, said: str) -> bool:
    """An answer that repeats the user's statement instead of replying to it."""
    a, s = plain(answer), plain(said)
    if len(s) >= 20 and s[:40] in a:
        return True
    return difflib.SequenceMatcher(None, a, s).ratio() >= ECHO_RATIO


def is_reply(answer: str) -> bool:
    """A reply to a statement says something: a few words ("¡¡¡¡" or "Oh." is not one)."""
    return len(re.findall(r"\w+", answer)) >= 3


LANGUAGES = ("en", "fr", "es", "de", "it")


def answer_language(answer: str, expected: str) -> str | None:
    """The answer's language as langdetect sees it: `expected` when that is at all likely,
    another of the set's languages when it is clearly that one, else None (too short or too
    odd to tell: langdetect calls "La capital de Perú es Lima." Catalan)."""
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    if len(re.findall(r"\w+", answer)) < 4:
        return None
    DetectorFactory.seed = 0
    try:
        guesses = {g.lang.split("-")[0]: g.prob for g in detect_langs(answer)}
    except LangDetectException:
        return None
    if guesses.get(expected, 0.0) >= 0.1:
        return expected
    best = max(guesses, key=guesses.__getitem__)
    return best if best in LANGUAGES and guesses[best] >= 0.7 else None


def expected_words(item: Item, asked_at: float, total_s: float, zone: str) -> list[str]:
    """The item's expected words; for a clock item, read from the clock at the time asked."""
    if item.expect is None:
        return item.expect_any
    return clock_words(item.expect, item.language, asked_at, asked_at + total_s, zone)


def judge(
    item: Item,
    answer: str,
    first_token_s: float,
    total_s: float,
    note: str | None = None,
    *,
    asked_at: float = 0.0,
    zone: str = "UTC",
) -> Verdict:
    detected = answer_language(answer, item.language)
    said = item.turns[-1]
    expected = expected_words(item, asked_at, total_s, zone)
    return Verdict(
        id=item.id,
        category=item.category,
        language=item.language,
        question=said,
        answer=answer,
        answer_language=detected,
        right_words=holds_any(answer, expected) if expected else is_reply(answer),
        right_language=detected in (None, item.language),
        echo=item.category == "statement" and is_echo(answer, said),
        first_token_s=first_token_s,
        total_s=total_s,
        loop_stopped="repeated itself" in (note or ""),
        hedged=hedged(plain(answer), item.language),
        asked_at=asked_at,
    )


def ask(client: Any, item: Item, zone: str) -> Verdict:
    """Play the item through the API, in one new session; judge the last answer."""
    session_id = None
    if item.recording:
        _, wav = speech_bytes(item.recording)
        upload = client.post("/upload", files={"file": ("recording.wav", wav, "audio/wav")})
        upload.raise_for_status()
        session_id = upload.json()["session_id"]
        heard = client.post("/response", json={"text": "", "session_id": session_id})
        heard.raise_for_status()
    for text in item.turns[:-1]:
        res = client.post("/response", json={"text": text, "session_id": session_id})
        res.raise_for_status()
        session_id = res.json()["session_id"]
    body = {"session_id": session_id} if session_id else {}
    asked_at = time.time()
    timing = stream_response(client, item.turns[-1], **body)
    note = timing.done.get("fallback")
    return judge(
        item,
        timing.text,
        timing.first_delta_s,
        timing.total_s,
        note,
        asked_at=asked_at,
        zone=zone,
    )


def rate(verdicts: list[Verdict]) -> float:
    return round(100 * sum(v.right for v in verdicts) / len(verdicts), 1) if verdicts else 0.0


def fact_triggers(items: list[Item]) -> dict[str, int]:
    """How many items the computed facts (core/facts) answer: of the arithmetic and clock
    items (the more the better), and of every other item's turns. A fact on another item is
    a false trigger (target 0) unless the item is itself arithmetic that expects the computed
    value (some factual items ask "What is seven times eight?"). Read in this process with
    this checkout's code, the way the server reads them: in the language detected, with the
    turn before's as the fallback."""
    from core import language
    from core.config import Settings
    from core.facts import find_fact

    zone = str(Settings.model_fields["time_zone"].default)
    default = str(Settings.model_fields["default_language"].default)
    counts = {"facts_found": 0, "fact_items": 0, "false_triggers": 0, "facts_elsewhere": 0}
    for item in items:
        prior = default
        for n, turn in enumerate(item.turns, 1):
            detected = language.detect(turn, fallback=prior)
            fact = find_fact(turn, language=detected, time_zone=zone)
            prior = fact.language if fact else detected
            if item.category in FACT_CATEGORIES:
                counts["fact_items"] += n == len(item.turns)
                counts["facts_found"] += n == len(item.turns) and fact is not None
            elif fact is not None:
                asked = n == len(item.turns) and fact.calculation is not None
                right = asked and holds_any(str(fact.calculation.value), item.expect_any)
                counts["facts_elsewhere" if right else "false_triggers"] += 1
    return counts


def summary(verdicts: list[Verdict]) -> dict[str, Any]:
    by_category: dict[str, list[Verdict]] = defaultdict(list)
    by_language: dict[str, list[Verdict]] = defaultdict(list)
    facts: dict[str, dict[str, list[Verdict]]] = defaultdict(lambda: defaultdict(list))
    for v in verdicts:
        by_category[v.category].append(v)
        by_language[v.language].append(v)
        if v.category in FACT_CATEGORIES:
            facts[v.category][v.language].append(v)
    told = [v for v in verdicts if v.answer_language is not None]
    first = [v.first_token_s for v in verdicts]
    total = [v.total_s for v in verdicts]
    return {
        "items": len(verdicts),
        "right_pct": rate(verdicts),
        "by_category_pct": {k: rate(v) for k, v in sorted(by_category.items())},
        "by_language_pct": {k: rate(v) for k, v in sorted(by_language.items())},
        **{
            f"{category}_by_language_pct": {k: rate(v) for k, v in sorted(languages.items())}
            for category, languages in sorted(facts.items())
        },
        "confidently_wrong_pct": round(
            100 * sum(v.confidently_wrong for v in verdicts) / len(verdicts), 1
        )
        if verdicts
        else 0.0,
        "hedged": sum(v.hedged for v in verdicts),
        "answer_language_pct": round(100 * sum(v.right_language for v in told) / len(told), 1)
        if told
        else 0.0,
        "answer_language_told": len(told),
        "echoes": sum(v.echo for v in verdicts),
        "loops_stopped": sum(v.loop_stopped for v in verdicts),
        "first_token_p50_s": round(median(first), 3),
        "first_token_p95_s": round(percentile(first, 95), 3),
        "answer_p50_s": round(median(total), 3),
        "answer_p95_s": round(percentile(total, 95), 3),
    }


def server_zone(env: dict[str, str]) -> str:
    """The time zone the server's clock answers in: TIME_ZONE, else the setting's default."""
    from core.config import Settings

    return env.get("TIME_ZONE") or str(Settings.model_fields["time_zone"].default)


def run(
    env: dict[str, str],
    label: str,
    limit: int | None = None,
    categories: list[str] | None = None,
    app_dir: Path | None = None,
) -> Result:
    items = [i for i in load_items() if not categories or i.category in categories][:limit]
    zone = server_zone(env)
    verdicts: list[Verdict] = []
    started = time.perf_counter()
    with (
        running_server(env=env, app_dir=app_dir) as server,
        server.client(timeout=300) as client,
    ):
        for n, item in enumerate(items, 1):
            verdict = ask(client, item, zone)
            verdicts.append(verdict)
            mark = "ok  " if verdict.right else "MISS"
            print(f"{n:3d}/{len(items)} {mark} {item.id:16s} {verdict.answer[:90]!r}", flush=True)
    figures = {**summary(verdicts), **fact_triggers(items)}
    print()
    where = f" from {app_dir}" if app_dir else ""
    settings = ", ".join(f"{k}={v}" for k, v in env.items()) or "defaults"
    print(f"configuration: {label}{where} ({settings})")
    for key, value in figures.items():
        print(f"  {key}: {value}")
    print(f"  run time: {time.perf_counter() - started:.0f} s")
    result = Result(f"quality-{label}")
    result.figures = {
        **figures,
        "env": env,
        "time_zone": zone,
        "app_dir": str(app_dir) if app_dir else None,
        "answers": [asdict(v) for v in verdicts],
    }
    return result


def rescore(path: Path) -> None:
    """Judge the answers of an earlier run again (after a change to the judging)."""
    data = json.loads(path.read_text())
    items = {item.id: item for item in load_items()}
    zone = data["figures"].get("time_zone", "UTC")
    verdicts = [
        judge(
            items[a["id"]],
            a["answer"],
            a["first_token_s"],
            a["total_s"],
            "repeated itself" if a.get("loop_stopped") else None,
            asked_at=a.get("asked_at", 0.0),
            zone=zone,
        )
        for a in data["figures"]["answers"]
    ]
    for key, value in summary(verdicts).items():
        print(f"  {key}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--label", default="default", help="names the result file")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items")
    parser.add_argument(
        "--category", action="append", help="only this category's items (repeatable)"
    )
    parser.add_argument(
        "--app-dir", type=Path, help="run another checkout's app.py (a baseline) on this set"
    )
    parser.add_argument("--rescore", type=Path, help="judge a result file again instead")
    parser.add_argument(
        "--personality", help="formal, casual or humorous (DEFAULT_PERSONALITY; casual if unset)"
    )
    args = parser.parse_args()
    if args.rescore:
        rescore(args.rescore)
        return
    env = dict(item.split("=", 1) for item in args.env)
    if args.personality:
        env["DEFAULT_PERSONALITY"] = args.personality
    write_result(run(env, args.label, args.limit, args.category, args.app_dir))


if __name__ == "__main__":
    main()
