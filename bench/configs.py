"""Two or more configurations side by side, in one run: the real-time and phone latency
benchmarks for each, one after the other on the same machine, and the ratios to the first.

    python -m bench.configs --config fast=LOCAL_LLM=qwen2.5-0.5b \\
                            --config smart=LOCAL_LLM=qwen2.5-1.5b

Each configuration is a label and settings (`LABEL=KEY=VALUE[,KEY=VALUE...]`); the first one is
the baseline. Each benchmark runs in its own process with those settings in its environment
(the server it starts and its in-process sequential pipeline both read them), in the order
A, B, ... then the same order again for the next benchmark. Every run's result is kept as
bench/results/<benchmark>-<label>.json; the table is bench/results/configs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from bench.common import REPO, RESULTS_DIR

BENCHMARKS = {
    # benchmark: (what is compared, where it is in the result's figures)
    "latency": ("WS first audio", ("engine", "p50_s")),
    "phone_latency": ("phone first audio", ("phone", "p50_s")),
    "multiturn": ("multi-turn first audio", ("first_audio", "p50_s")),
}
TIMEOUT_S = 1800.0


def parse(config: str) -> tuple[str, dict[str, str]]:
    label, _, settings = config.partition("=")
    if not label or not settings:
        raise SystemExit(f"--config {config!r}: expected LABEL=KEY=VALUE[,KEY=VALUE...]")
    return label, dict(item.split("=", 1) for item in settings.split(","))


def run_benchmark(name: str, label: str, settings: dict[str, str]) -> dict[str, Any]:
    """One benchmark in its own process with `settings`; its figures, saved under `label`."""
    print(f"\n### {name}, {label} ({', '.join(f'{k}={v}' for k, v in settings.items())})")
    env = {**os.environ, **settings}
    subprocess.run(
        [sys.executable, "-m", f"bench.{name}"], cwd=REPO, env=env, check=True, timeout=TIMEOUT_S
    )
    written = RESULTS_DIR / f"{name}.json"
    kept = RESULTS_DIR / f"{name}-{label}.json"
    written.replace(kept)
    return dict(json.loads(kept.read_text())["figures"])


def figure(figures: dict[str, Any], path: tuple[str, ...]) -> float:
    value: Any = figures
    for key in path:
        value = value[key]
    return float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", required=True, metavar="LABEL=KEY=VALUE")
    parser.add_argument("--bench", action="append", choices=sorted(BENCHMARKS))
    args = parser.parse_args()
    configs = [parse(c) for c in args.config]
    names = args.bench or list(BENCHMARKS)
    table: dict[str, dict[str, float]] = {}
    for name in names:
        what, path = BENCHMARKS[name]
        for label, settings in configs:
            figures = run_benchmark(name, label, settings)
            table.setdefault(what, {})[label] = figure(figures, path)
    baseline = configs[0][0]
    print(f"\n=== p50 first audio, side by side (ratio to {baseline}) ===")
    for what, by_label in table.items():
        cells = [
            f"{label} {value:.3f} s ({value / by_label[baseline]:.2f}x)"
            for label, value in by_label.items()
        ]
        print(f"{what:18s} " + " | ".join(cells))
    out = RESULTS_DIR / "configs.json"
    out.write_text(
        json.dumps({"configs": dict(configs), "p50_first_audio_s": table}, indent=2) + "\n"
    )
    print(f"Result written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
