"""Answer quality on the evaluation set (evals/questions.jsonl), through the real server.

    python -m bench.quality                                  # the default local configuration
    python -m bench.quality --env LOCAL_LLM_PATH=/path.gguf  # any setting, e.g. another model
    python -m bench.quality --env GROQ_API_KEY=gsk_...        # a cloud provider, to compare
    python -m bench.quality --personality humorous           # another personality

Each item is a new session: factual questions in five languages, statements that need a reply
(repeating the user's words back fails), follow-ups that need the history (some in another
language than the question before them), and recordings
(spoken by Piper, uploaded, answered) followed by a question about what was said. An answer is
right when it holds one of the expected words (accents and case ignored; a city's or planet's
common international name counts, "Vienna" in a Spanish answer) and is in the item's
language. Prints accuracy per category and per language, the answer-language rate, the echoes
and the latency; writes every answer to bench/results/quality*.json.
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

EVALS = REPO / "evals" / "questions.jsonl"
ECHO_RATIO = 0.6  # an answer this similar to the user's statement repeats it


@dataclass(frozen=True)
class Item:
    id: str
    category: str  # factual, statement, followup, upload
    language: str
    turns: list[str]
    expect_any: list[str]
    recording: str | None = None


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

    @property
    def right(self) -> bool:
        return self.right_words and self.right_language and not self.echo


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


def judge(
    item: Item, answer: str, first_token_s: float, total_s: float, note: str | None = None
) -> Verdict:
    detected = answer_language(answer, item.language)
    said = item.turns[-1]
    return Verdict(
        id=item.id,
        category=item.category,
        language=item.language,
        question=said,
        answer=answer,
        answer_language=detected,
        right_words=holds_any(answer, item.expect_any) if item.expect_any else is_reply(answer),
        right_language=detected in (None, item.language),
        echo=item.category == "statement" and is_echo(answer, said),
        first_token_s=first_token_s,
        total_s=total_s,
        loop_stopped="repeated itself" in (note or ""),
    )


def ask(client: Any, item: Item) -> Verdict:
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
    timing = stream_response(client, item.turns[-1], **body)
    note = timing.done.get("fallback")
    return judge(item, timing.text, timing.first_delta_s, timing.total_s, note)


def rate(verdicts: list[Verdict]) -> float:
    return round(100 * sum(v.right for v in verdicts) / len(verdicts), 1) if verdicts else 0.0


def summary(verdicts: list[Verdict]) -> dict[str, Any]:
    by_category: dict[str, list[Verdict]] = defaultdict(list)
    by_language: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        by_category[v.category].append(v)
        by_language[v.language].append(v)
    told = [v for v in verdicts if v.answer_language is not None]
    first = [v.first_token_s for v in verdicts]
    total = [v.total_s for v in verdicts]
    return {
        "items": len(verdicts),
        "right_pct": rate(verdicts),
        "by_category_pct": {k: rate(v) for k, v in sorted(by_category.items())},
        "by_language_pct": {k: rate(v) for k, v in sorted(by_language.items())},
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


def run(env: dict[str, str], label: str, limit: int | None = None) -> Result:
    items = load_items()[:limit]
    verdicts: list[Verdict] = []
    started = time.perf_counter()
    with running_server(env=env) as server, server.client(timeout=300) as client:
        for n, item in enumerate(items, 1):
            verdict = ask(client, item)
            verdicts.append(verdict)
            mark = "ok  " if verdict.right else "MISS"
            print(f"{n:3d}/{len(items)} {mark} {item.id:16s} {verdict.answer[:90]!r}", flush=True)
    figures = summary(verdicts)
    print()
    print(f"configuration: {label} ({', '.join(f'{k}={v}' for k, v in env.items()) or 'defaults'})")
    for key, value in figures.items():
        print(f"  {key}: {value}")
    print(f"  run time: {time.perf_counter() - started:.0f} s")
    result = Result(f"quality-{label}")
    result.figures = {**figures, "env": env, "answers": [asdict(v) for v in verdicts]}
    return result


def rescore(path: Path) -> None:
    """Judge the answers of an earlier run again (after a change to the judging)."""
    data = json.loads(path.read_text())
    items = {item.id: item for item in load_items()}
    verdicts = [
        judge(
            items[a["id"]],
            a["answer"],
            a["first_token_s"],
            a["total_s"],
            "repeated itself" if a.get("loop_stopped") else None,
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
    write_result(run(env, args.label, args.limit))


if __name__ == "__main__":
    main()
