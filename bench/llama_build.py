"""llama.cpp builds and extra buffers side by side: load time, first token and tokens per second
of the bundled model, each configuration in its own child process, rounds interleaved.

    python -m bench.llama_build                       # the installed build, extra buffers on/off
    python -m bench.llama_build --library native=DIR  # and another build (pip install --target DIR)

Ratios are against the first configuration, measured in the same run: machines of this kind
differ by 2-3x, so only a ratio means anything across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import REPO, Result, median, write_result
from bench.noise import report_machine_load

NAME = "llama_build"
ROUNDS = 3
MAX_TOKENS = 64
QUESTIONS = (
    "What is the capital city of France and why is it famous?",
    "How many minutes should I boil an egg for breakfast?",
    "Why is the sky blue during the day and red at sunset?",
    "Can you explain what a black hole is in simple words?",
    "Which vegetables are easy to grow in a small garden?",
    "How long does it take to fly from London to New York?",
)


@dataclass(frozen=True)
class Config:
    label: str
    library: str | None  # a folder holding another llama_cpp package, first on the path
    extra_buffers: bool


def child(extra_buffers: bool) -> dict[str, object]:
    """Load the bundled model as the server does, then answer each question: time to the first
    streamed token (the prompt the agent builds for a new session) and decode tokens/s."""
    import llama_cpp

    from bench.first_token import PERSONALITY
    from core import personalities
    from core.config import Settings
    from core.llm.llama_cpp import load_llama
    from core.llm.llama_runtime import parse_system_info
    from core.providers import local_llm_file

    settings = Settings()
    path, _, _ = local_llm_file(settings)
    start = time.perf_counter()
    model = load_llama(
        path,
        context_tokens=settings.llm_context_tokens,
        threads=settings.llm_threads,
        extra_buffers=extra_buffers,
    )
    load_s = time.perf_counter() - start
    system = personalities.system_prompt(PERSONALITY, custom_prompt=None, language="en")
    first, rates = [], []
    for question in QUESTIONS:
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": f"{question}\n\n(Reply in English.)"},
        ]
        model.reset()  # no prefix cache between questions: each pays for its whole prompt
        start = time.perf_counter()
        stamps = []
        for chunk in model.create_chat_completion(
            messages=messages, max_tokens=MAX_TOKENS, temperature=0.0, stream=True
        ):
            if chunk["choices"][0]["delta"].get("content"):
                stamps.append(time.perf_counter())
        first.append(stamps[0] - start)
        if len(stamps) > 1:
            rates.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
    info = parse_system_info(llama_cpp.llama_print_system_info().decode())
    return {
        "load_s": load_s,
        "first_token_s": first,
        "tokens_per_s": rates,
        "features": sorted(info.features),
        "module": llama_cpp.__file__,
    }


def measure(config: Config) -> dict[str, object]:
    env = dict(os.environ)
    if config.library:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [config.library, str(REPO)]))
    done = subprocess.run(
        [sys.executable, "-m", "bench.llama_build", "--child", str(int(config.extra_buffers))],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{config.label} failed ({done.returncode}): {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(libraries: list[tuple[str, str]], rounds: int = ROUNDS) -> Result:
    load = report_machine_load()
    configs = [Config("installed", None, True), Config("installed", None, False)]
    for label, folder in libraries:
        configs += [Config(label, folder, True), Config(label, folder, False)]
    samples: dict[Config, dict[str, list[float]]] = {
        c: {"load_s": [], "first_token_s": [], "tokens_per_s": []} for c in configs
    }
    features: dict[Config, list[str]] = {}
    for round_no in range(rounds):
        shift = round_no % len(configs)  # each configuration takes every place in the order
        for config in configs[shift:] + configs[:shift]:
            figures = measure(config)
            samples[config]["load_s"].append(float(figures["load_s"]))  # type: ignore[arg-type]
            samples[config]["first_token_s"] += figures["first_token_s"]  # type: ignore[arg-type]
            samples[config]["tokens_per_s"] += figures["tokens_per_s"]  # type: ignore[arg-type]
            features[config] = figures["features"]  # type: ignore[assignment]
            print(
                f"round {round_no + 1}/{rounds}: {config.label}, extra buffers "
                f"{'on' if config.extra_buffers else 'off'} measured",
                flush=True,
            )
    base = configs[0]
    base_first = median(samples[base]["first_token_s"])
    base_rate = median(samples[base]["tokens_per_s"])
    rows: list[dict[str, object]] = []
    print()
    print(
        f"{'build':<12} {'extra':<5} {'load s':>7} {'first token ms':>15} {'tok/s':>7} "
        f"{'first/base':>10} {'tok/s/base':>10}  features"
    )
    for config in configs:
        s = samples[config]
        first, rate = median(s["first_token_s"]), median(s["tokens_per_s"])
        shown = [f for f in features[config] if f not in ("LLAMAFILE", "OPENMP")]
        extra = "on" if config.extra_buffers else "off"
        load_s, first_ms = round(median(s["load_s"]), 3), round(first * 1000, 1)
        first_ratio, rate_ratio = round(first / base_first, 3), round(rate / base_rate, 3)
        rows.append(
            {
                "build": config.label,
                "extra_buffers": config.extra_buffers,
                "load_s": load_s,
                "first_token_ms_p50": first_ms,
                "tokens_per_s_p50": round(rate, 2),
                "first_token_ratio": first_ratio,
                "tokens_per_s_ratio": rate_ratio,
                "features": shown,
            }
        )
        print(
            f"{config.label:<12} {extra:<5} {load_s:>7} {first_ms:>15} {rate:>7.2f} "
            f"{first_ratio:>10} {rate_ratio:>10}  {' '.join(shown)}"
        )
    result = Result(NAME)
    result.figures = {**load, "rounds": rounds, "questions": len(QUESTIONS), "rows": rows}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds per configuration")
    parser.add_argument(
        "--library",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="another llama-cpp-python installed with pip install --target DIR",
    )
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(bool(int(args.child)))))
        return
    libraries = []
    for item in args.library:
        label, _, folder = item.partition("=")
        libraries.append((label, str(Path(folder).resolve())))
    write_result(run(libraries, args.rounds))


if __name__ == "__main__":
    main()
