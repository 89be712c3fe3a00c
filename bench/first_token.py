"""Streamed `/response` time to first token against llama.cpp called directly, same prompt."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from bench.common import (
    Check,
    Result,
    median,
    running_server,
    stream_response,
    summary_ms,
    write_result,
)
from bench.noise import quiet_rounds, report_machine_load

NAME = "first_token"
ROUNDS = 10
TARGET_DIFF_MS = 50.0
PERSONALITY = "casual"  # the default personality of a new account
# One question per round (the first is the warm-up); in a round the server and the direct model
# get the same one. Six or more plain English words, so language detection is sure of English.
QUESTIONS = (
    "Can you tell me what the weather is usually like in spring?",
    "What is the capital city of France and why is it famous?",
    "How many minutes should I boil an egg for breakfast?",
    "What is a good way to fall asleep faster at night?",
    "Why is the sky blue during the day and red at sunset?",
    "How do I make a simple cup of green tea at home?",
    "What are some fun things to do on a rainy weekend?",
    "Can you explain what a black hole is in simple words?",
    "How long does it take to fly from London to New York?",
    "What should I pack for a short trip to the mountains?",
    "Which vegetables are easy to grow in a small garden?",
)


@dataclass(frozen=True)
class Round:
    response_s: float  # client: request sent -> first `delta` event received
    start_event_s: float  # client: request sent -> `start` event received (turn stored)
    agent_s: float  # the agent's own llm_first_token_ms, from the `done` event
    direct_s: float  # bench process: create_chat_completion -> first content chunk


def load_direct_model() -> tuple[Any, Any]:
    """The bundled Qwen GGUF as the server loads it (core/providers.py, core/llm/llama_cpp.py),
    with the extra buffers the server chooses for this CPU."""
    from core.config import Settings
    from core.llm.llama_cpp import load_llama
    from core.llm.llama_selftest import prepare
    from core.providers import local_llm_file

    settings = Settings()
    path, _, _ = local_llm_file(settings)
    runtime = prepare(
        path, setting=settings.llama_extra_buffers, cache_dir=settings.model_cache_dir
    )
    model = load_llama(
        path,
        context_tokens=settings.llm_context_tokens,
        threads=settings.llm_threads,
        extra_buffers=runtime.extra_buffers.use,
    )
    return model, settings


def messages_for(question: str, language: str) -> list[dict[str, str]]:
    """What `Agent.build_messages` sends for the first turn of a new session (no history)."""
    from core import personalities

    system = personalities.system_prompt(PERSONALITY, custom_prompt=None, language=language)
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def run() -> Result:
    from core import language

    load = report_machine_load()
    model, settings = load_direct_model()
    language.warm_up()

    def direct(question: str) -> float:
        messages = messages_for(question, language.detect(question, fallback="en"))
        start = time.perf_counter()
        chunks = model.create_chat_completion(
            messages=messages,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            stream=True,
        )
        try:
            for chunk in chunks:
                if chunk["choices"][0]["delta"].get("content"):
                    return time.perf_counter() - start
        finally:
            chunks.close()  # only the first token is timed; stop generating
        raise RuntimeError("llama.cpp produced no content")

    with running_server() as server, server.client() as client:

        def served(question: str) -> tuple[float, float, float]:
            # No session_id: a new session every time, so the prompt has no history.
            timing = stream_response(client, question)
            expected = {
                "language": language.detect(question, fallback="en"),
                "personality": PERSONALITY,
            }
            if {k: timing.start.get(k) for k in expected} != expected:
                raise RuntimeError(
                    f"The server's turn differs from the direct prompt: {timing.start}"
                )
            agent_s = timing.done["timings"]["llm_first_token_ms"] / 1000
            return timing.first_delta_s, timing.start_s, agent_s

        def one_round(i: int) -> Round:
            question = QUESTIONS[1 + i]
            # Alternate which goes first; the server has streamed its whole answer (`done`)
            # before the direct model starts, so they never overlap.
            if i % 2 == 0:
                (response_s, start_s, agent_s), direct_s = served(question), direct(question)
            else:
                direct_s, (response_s, start_s, agent_s) = direct(question), served(question)
            print(
                f"round {i + 1:2d}/{ROUNDS}: /response first delta {response_s * 1000:7.1f} ms "
                f"(start event {start_s * 1000:5.1f}, agent-side {agent_s * 1000:7.1f})   "
                f"direct {direct_s * 1000:7.1f} ms"
            )
            return Round(response_s, start_s, agent_s, direct_s)

        served(QUESTIONS[0])  # warm-up
        direct(QUESTIONS[0])
        rounds = quiet_rounds(ROUNDS, one_round, [os.getpid(), server.pid])

    response_s = [r.response_s for r in rounds.values]
    start_s = [r.start_event_s for r in rounds.values]
    agent_s = [r.agent_s for r in rounds.values]
    direct_s = [r.direct_s for r in rounds.values]
    diff_ms = (median(response_s) - median(direct_s)) * 1000
    print()
    print(
        f"/response first delta median {median(response_s) * 1000:.1f} ms "
        f"(start event {median(start_s) * 1000:.1f}, "
        f"agent-side llm_first_token_ms {median(agent_s) * 1000:.1f})"
    )
    print(f"direct first token median    {median(direct_s) * 1000:.1f} ms")
    print(f"difference of medians: {diff_ms:.1f} ms")
    print(rounds.describe())

    result = Result(NAME)
    result.checks.append(
        Check("first token: /response - direct (medians)", round(diff_ms, 1), TARGET_DIFF_MS, "ms")
    )
    result.figures = {
        **load,
        **rounds.figures(),
        "rounds": ROUNDS,
        "response_first_delta": summary_ms(response_s),
        "start_event": summary_ms(start_s),
        "agent_llm_first_token": summary_ms(agent_s),
        "direct_first_token": summary_ms(direct_s),
        "difference_of_medians_ms": round(diff_ms, 1),
        "response_ms": [round(v * 1000, 1) for v in response_s],
        "direct_ms": [round(v * 1000, 1) for v in direct_s],
    }
    return result


def main() -> None:
    write_result(run())


if __name__ == "__main__":
    main()
