"""Run every benchmark in turn, each in its own process, and print a summary table."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from bench.common import REPO, RESULTS_DIR

BENCHMARKS = (
    "upload_vs_direct",
    "first_token",
    "health_under_load",
    "rss",
    "latency",
    "phone_latency",
    "load",
    "writers",
    "conversations",
)
TIMEOUT_S = 1800.0  # per benchmark
INTERRUPT_GRACE_S = 60.0


def run_one(name: str) -> tuple[int, float]:
    """Run `python -m bench.<name>`; on timeout interrupt it so it stops its own server."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", f"bench.{name}"], cwd=REPO)
    try:
        code = process.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"{name}: no result after {TIMEOUT_S:.0f} s, interrupting it", file=sys.stderr)
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=INTERRUPT_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    except BaseException:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=INTERRUPT_GRACE_S)
        raise
    return code, time.perf_counter() - started


def main() -> None:
    rows: list[tuple[str, str, str, str, str]] = []
    failures = 0
    for name in BENCHMARKS:
        print(f"\n===== {name} =====", flush=True)
        result_path = RESULTS_DIR / f"{name}.json"
        result_path.unlink(missing_ok=True)  # never report a previous run's figures
        code, elapsed = run_one(name)
        if code != 0 or not result_path.is_file():
            failures += 1
            rows.append((name, "(benchmark failed)", f"exit {code}", "", "FAILED"))
            continue
        print(f"({name} took {elapsed:.0f} s)")
        for check in json.loads(result_path.read_text())["checks"]:
            rows.append(
                (
                    name,
                    check["metric"],
                    f"{check['value']:g} {check['unit']}",
                    f"<= {check['limit']:g} {check['unit']}",
                    "PASS" if check["passed"] else "MISS",
                )
            )
            failures += not check["passed"]

    header = ("benchmark", "metric", "value", "target", "result")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    print("\n===== summary =====")
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(f"\nResults in {RESULTS_DIR.relative_to(REPO)}/")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
