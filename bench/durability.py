"""Fifty SIGKILLs of the real server while clients write turns: acknowledged turns lost (must be
none), `PRAGMA integrity_check` after each restart, and the time each cycle takes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bench.common import Check, Result, write_result
from tests import durability
from tests.groq_server import running_fake_groq

NAME = "durability"
CYCLES = int(os.environ.get("DURABILITY_CYCLES", "50"))


def run() -> Result:
    with tempfile.TemporaryDirectory(prefix="voice-agent-durability-") as tmp:
        with running_fake_groq() as groq:
            figures = durability.run(CYCLES, Path(tmp), groq, seed=CYCLES)
    summary = figures.summary()
    print(json.dumps(summary, indent=2))
    for line in figures.lost[:20]:
        print("LOST", line)
    bad_checks = len(summary["integrity_not_ok"])  # type: ignore[arg-type]
    return Result(
        NAME,
        checks=[
            Check("acknowledged turns lost", len(figures.lost), 0, "turns"),
            Check("integrity_check not ok", bad_checks, 0, "checks"),
            Check("cycles short of the target", CYCLES - figures.cycles, 0, "cycles"),
        ],
        figures=summary,
    )


def main() -> None:
    write_result(run())


if __name__ == "__main__":
    main()
