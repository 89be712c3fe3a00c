"""SIGKILL the real server while turns are written: every acknowledged turn survives, and the
SQLite file stays sound. Five cycles here (about 8 s each, mostly the server's start);
`bench/durability.py` runs fifty, and `DURABILITY_CYCLES=50` makes this test do the same."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import durability
from tests.groq_server import FakeGroq, groq_server_fixture  # noqa: F401

CYCLES = int(os.environ.get("DURABILITY_CYCLES", "5"))


@pytest.mark.slow
def test_acknowledged_turns_survive_sigkill(tmp_path: Path, groq_server: FakeGroq) -> None:
    figures = durability.run(CYCLES, tmp_path, groq_server, seed=CYCLES)

    summary = figures.summary()
    assert figures.cycles == CYCLES
    assert figures.lost == [], summary
    assert figures.integrity == ["ok"] * CYCLES
    # The kills really hit a server at work: turns got acknowledged, requests got cut.
    kinds = summary["acknowledgements_by_kind"]
    assert isinstance(kinds, dict)
    assert {"response", "stream-start", "upload"} <= kinds.keys(), kinds
    assert figures.failed_requests >= CYCLES
