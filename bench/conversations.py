"""How many live conversations (`WS /ws/conversation`) the machine holds at once with the
95th percentile of turn latency (last voiced frame -> first reply audio) under 2 s.

Levels of 1, 2, 3... conversations, all speaking at once (each says `PER_CONVERSATION`
utterances in real time, as in `bench.latency`), until a level misses the target; the server
runs with MAX_CONVERSATIONS raised so that it does not refuse any. The answer is the figure to
set MAX_CONVERSATIONS to on this machine.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.common import UTTERANCES, Check, Result, register, running_server, write_result, ws_url
from bench.latency import USER_PASSWORD, level, tally
from bench.noise import report_machine_load
from bench.ws_client import RATE, make_utterances, talk

NAME = "conversations"
TARGET_P95_S = 2.0
MAX_LEVEL = 8


def run() -> Result:
    load: dict[str, Any] = {**report_machine_load()}
    utterances = make_utterances(UTTERANCES)
    levels: dict[str, Any] = {}
    held = 0
    with running_server(env={"MAX_CONVERSATIONS": str(MAX_LEVEL * 2)}) as server:
        tokens = [
            register(server.base_url, f"bench-conv-{i}", USER_PASSWORD) for i in range(MAX_LEVEL)
        ]
        urls = [ws_url(server, "/ws/conversation", token=t, sample_rate=RATE) for t in tokens]
        asyncio.run(talk(urls[0], utterances[:1]))  # warm-up
        for n in range(1, MAX_LEVEL + 1):
            figures = tally(asyncio.run(level(urls[:n], utterances)))
            levels[str(n)] = figures
            print(
                f"{n} conversation(s): p50 {figures['p50_s']:.3f} s, p95 {figures['p95_s']:.3f} s,"
                f" max {figures['max_s']:.3f} s, {figures['turns']} turns, "
                f"{figures['failed']} failed, {figures['queued_events']} queued events"
            )
            if figures["p95_s"] > TARGET_P95_S or figures["failed"]:
                break
            held = n
    print(f"\nConversations held with p95 under {TARGET_P95_S:g} s: {held}")
    result = Result(NAME, figures={**load, "levels": levels, "held": held})
    # The figure is a capacity, not a target; the check says the machine holds at least one.
    result.checks.append(Check("conversations held, short of one", max(0, 1 - held), 0, ""))
    return result


def main() -> None:
    write_result(run())


if __name__ == "__main__":
    main()
