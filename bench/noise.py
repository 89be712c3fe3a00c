"""Other work on the two shared cores: measure it, wait for quiet, re-run noisy rounds."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Above this share of the machine used by other processes, a timing round counts as noisy.
QUIET_SHARE = 0.10
QUIET_WAIT_S = 30.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process (all its threads) has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values[:8]), values[3] + values[4]  # total, idle + iowait


class OtherLoad:
    """How much of the machine processes other than `pids` used between creation and `share()`.

    The bench and its server share two cores with whatever else runs; this says whether a
    slow figure came from the code under test or from a neighbour.
    """

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self._start = self._sample()

    def _sample(self) -> tuple[int, int, float]:
        total, idle = _machine_jiffies()
        ours = 0.0
        for pid in self.pids:
            with contextlib.suppress(OSError):
                ours += cpu_seconds(pid)
        return total, idle, ours

    def share(self) -> float:
        """Fraction of all CPUs that other processes kept busy since this object was made."""
        total0, idle0, ours0 = self._start
        total1, idle1, ours1 = self._sample()
        hz = os.sysconf("SC_CLK_TCK")
        busy = ((total1 - total0) - (idle1 - idle0)) / hz
        capacity = (total1 - total0) / hz
        return max(0.0, (busy - (ours1 - ours0)) / max(capacity, 1e-9))


def machine_busy(interval: float = 1.0) -> float:
    """Fraction of all CPUs busy over `interval` seconds, whoever used them."""
    total0, idle0 = _machine_jiffies()
    time.sleep(interval)
    total1, idle1 = _machine_jiffies()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def report_machine_load() -> dict[str, float]:
    """Print and return how busy the machine is before a run: other work skews the timings."""
    busy = machine_busy()
    load1 = os.getloadavg()[0]
    note = "  (other work is running: expect noisy timings)" if busy > QUIET_SHARE else ""
    print(f"Machine before the run: {busy:.0%} CPU busy, load average {load1:.2f}{note}")
    return {"cpu_busy_before": round(busy, 3), "loadavg_1m_before": round(load1, 2)}


def wait_for_quiet(timeout: float = QUIET_WAIT_S, interval: float = 0.5) -> float:
    """Wait (at most `timeout` seconds) until the machine is nearly idle; return the last reading.

    Call it only while the bench and its server are idle, since their own work counts too.
    """
    deadline = time.monotonic() + timeout
    busy = machine_busy(interval)
    while busy > QUIET_SHARE and time.monotonic() < deadline:
        busy = machine_busy(interval)
    return busy


@dataclass
class Rounds(Generic[T]):
    """Measured rounds, each kept with the share of the machine other processes used meanwhile."""

    values: list[T] = field(default_factory=list)
    other_shares: list[float] = field(default_factory=list)
    discarded: int = 0

    @property
    def noisy(self) -> int:
        """How many kept rounds still had neighbours busier than `QUIET_SHARE`."""
        return sum(share > QUIET_SHARE for share in self.other_shares)

    def describe(self) -> str:
        shares = ", ".join(f"{s:.0%}" for s in self.other_shares)
        return (
            f"other processes' share of the machine per kept round: {shares}; "
            f"{self.discarded} noisy round(s) discarded and re-run, {self.noisy} kept noisy"
        )

    def figures(self) -> dict[str, Any]:
        return {
            "other_processes_cpu_share": [round(s, 3) for s in self.other_shares],
            "rounds_discarded_for_noise": self.discarded,
            "rounds_kept_noisy": self.noisy,
        }


def quiet_rounds(
    count: int,
    one_round: Callable[[int], T],
    pids: Sequence[int],
    *,
    max_attempts: int | None = None,
) -> Rounds[T]:
    """Run `one_round(i)` until `count` rounds ran while other processes left the machine alone.

    Other sessions share these two cores; a round during which they used more than
    `QUIET_SHARE` of the machine is run again, up to `max_attempts` (default 3 x count) in
    all, after which noisy rounds are kept and counted as such.
    """
    attempts = max_attempts or 3 * count
    rounds: Rounds[T] = Rounds()
    for attempt in range(attempts):
        if len(rounds.values) == count:
            break
        must_keep = attempts - attempt <= count - len(rounds.values)
        if not must_keep:
            wait_for_quiet()
        others = OtherLoad(pids)
        value = one_round(len(rounds.values))
        share = others.share()
        if share > QUIET_SHARE and not must_keep:
            rounds.discarded += 1
            print(f"  (round discarded: other processes used {share:.0%} of the machine)")
            continue
        rounds.values.append(value)
        rounds.other_shares.append(share)
    return rounds
