"""Streamed `/response` time to first token against llama.cpp called directly, same prompt."""

from __future__ import annotations

import os
import time
from typing import Any

from bench.common import (
    Check,
    OtherLoad,
    Result,
    median,
    report_machine_load,
    running_server,
    stream_response,
    summary_ms,
    write_result,
)

NAME = "first_token"
ROUNDS = 10
TARGET_DIFF_MS = 50.0
PERSONALITY = "casual"  # the default personality of a new account
# One question per round (plus a warm-up); server and direct model get the same one in a round.
# Six or more plain English words, so language detection is sure of English.
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


def load_direct_model() -> tuple[Any, Any]:
    """The bundled Qwen GGUF with the server's settings (core/providers.py, core/llm/llama_cpp.py)."""
    from llama_cpp import Llama

    from core.assets import QWEN_05B, ensure_model
    from core.config import Settings

    settings = Settings()
    path = ensure_model(QWEN_05B, settings.model_cache_dir) / QWEN_05B.target
    model = Llama(
        model_path=str(path),
        n_ctx=settings.llm_context_tokens,
        n_threads=settings.llm_threads,
        n_threads_batch=settings.llm_threads,
        verbose=False,
    )
    return model, settings


def messages_for(question: str, language: str) -> list[dict[str, str]]:
    """What `Agent.build_messages` sends for the first turn of a new session (no history)."""
    from core import personalities

    system = personalities.system_prompt(PERSONALITY, custom_prompt=None, language=language)
    reminder = f"{question}\n\n(Reply in {personalities.language_name(language)}.)"
    return [{"role": "system", "content": system}, {"role": "user", "content": reminder}]


def run() -> Result:
    from core import language

    result = Result(NAME)
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

        def served(question: str) -> tuple[float, float]:
            timing = stream_response(client, question)  # no session_id: a new session each time
            expected = language.detect(question, fallback="en")
            if (
                timing.start.get("language") != expected
                or timing.start.get("personality") != PERSONALITY
            ):
                raise RuntimeError(
                    f"The server's turn differs from the direct prompt: {timing.start}"
                )
            return timing.first_delta_s, timing.done["timings"]["llm_first_token_ms"] / 1000

        served(QUESTIONS[0])  # warm-up
        direct(QUESTIONS[0])
        others = OtherLoad([os.getpid(), server.pid])
        server_s: list[float] = []
        server_inner_s: list[float] = []
        direct_s: list[float] = []
        for i, question in enumerate(QUESTIONS[1 : ROUNDS + 1]):
            for which in ("server", "direct") if i % 2 == 0 else ("direct", "server"):
                if which == "server":
                    first, inner = served(question)
                    server_s.append(first)
                    server_inner_s.append(inner)
                else:
                    direct_s.append(direct(question))
            print(
                f"round {i + 1:2d}/{ROUNDS}: /response first delta {server_s[-1] * 1000:7.1f} ms "
                f"(agent-side {server_inner_s[-1] * 1000:7.1f})   direct {direct_s[-1] * 1000:7.1f} ms"
            )
        other_share = others.share()

    diff_ms = (median(server_s) - median(direct_s)) * 1000
    print()
    print(
        f"/response first delta median {median(server_s) * 1000:.1f} ms "
        f"(agent-side llm_first_token_ms median {median(server_inner_s) * 1000:.1f})"
    )
    print(f"direct first token median    {median(direct_s) * 1000:.1f} ms")
    print(f"difference of medians: {diff_ms:.1f} ms")
    print(f"Other processes used {other_share:.0%} of the machine during the rounds")
    result.checks.append(
        Check(
            "first token: /response median - direct median", round(diff_ms, 1), TARGET_DIFF_MS, "ms"
        )
    )
    result.figures = {
        **load,
        "other_processes_cpu_share": round(other_share, 3),
        "rounds": ROUNDS,
        "response_first_delta": summary_ms(server_s),
        "agent_llm_first_token": summary_ms(server_inner_s),
        "direct_first_token": summary_ms(direct_s),
        "difference_of_medians_ms": round(diff_ms, 1),
        "response_ms": [round(v * 1000, 1) for v in server_s],
        "direct_ms": [round(v * 1000, 1) for v in direct_s],
    }
    return result


def main() -> None:
    write_result(run())


if __name__ == "__main__":
    main()
