"""The local model keeps recent prompts' states: a conversation interrupted by another one (or
by a turn in another language) is not read again from its first token."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from core.llm import ChatMessage
from core.llm.llama_states import keep_states
from core.providers import Providers


@pytest.fixture(params=[64 * 2**20, 0], ids=["states kept", "no states"])
def model(request: pytest.FixtureRequest, local_providers: Providers) -> Iterator[Any]:
    """The shared local model with (or without) a state cache for the length of one test,
    counting the prompt and answer tokens llama.cpp reads; as it was afterwards."""
    llama = local_providers.llm.model  # type: ignore[attr-defined]
    kept = ("cache", "save_state", "load_state")
    before = {name: llama.__dict__[name] for name in kept if name in llama.__dict__}
    read: list[int] = []
    original_eval = llama.eval

    def counting_eval(tokens: Any) -> None:
        read.append(len(tokens))
        original_eval(tokens)

    llama.set_cache(None)
    llama.eval = counting_eval
    keep_states(llama, request.param)
    llama.read = read
    try:
        yield llama
    finally:
        for name in ("eval", "save_state", "load_state", "read"):
            llama.__dict__.pop(name, None)
        llama.__dict__.update(before)


def ask(llm: Any, model: Any, messages: list[ChatMessage]) -> tuple[str, int]:
    """An answer and the number of tokens read for it (prompt and answer)."""
    model.read.clear()
    answer = "".join(llm.stream(messages, max_tokens=12))
    return answer, sum(model.read)


def test_a_conversation_resumes_from_its_saved_state_after_another_one(
    local_providers: Providers, model: Any
) -> None:
    llm = local_providers.llm
    french = [
        ChatMessage("system", "Tu es un assistant vocal. Réponds toujours en français."),
        ChatMessage("user", "Quelle est la capitale de l'Italie ?"),
    ]
    german = [
        ChatMessage("system", "Du bist ein Sprachassistent. Antworte immer auf Deutsch."),
        ChatMessage("user", "Wie viele Tage hat eine Woche?"),
    ]
    first, first_read = ask(llm, model, french)
    _, german_read = ask(llm, model, german)
    follow_up = [*french, ChatMessage("assistant", first), ChatMessage("user", "Et de l'Espagne ?")]
    answer, follow_up_read = ask(llm, model, follow_up)

    assert first and answer and german_read > 0
    prompt = model.tokenize(follow_up[-1].content.encode(), add_bos=False)
    # Without the saved state the whole French conversation is read again after the German
    # one; with it, only the new message, the chat markup around it and the answer.
    if model.cache is None:
        assert follow_up_read > first_read
    else:
        assert follow_up_read <= len(prompt) + 12 + 16 < first_read


def test_a_prompt_read_ahead_leaves_the_answer_only_its_own_tokens_to_read(
    local_providers: Providers, model: Any
) -> None:
    """`prefill` (the live engine calls it in the user's pause) reads the prompt the answer
    will have: the answer then reads at most its last prompt token, plus its own tokens."""
    llm = local_providers.llm
    messages = [
        ChatMessage("system", "You are a voice assistant. Answer in one short sentence."),
        ChatMessage("user", f"({time.time_ns()}) How many wheels does a bicycle have?"),
    ]
    model.read.clear()
    assert llm.prefill(messages) is True
    prompt_read = sum(model.read)
    _, answer_read = ask(llm, model, messages)
    new = model.tokenize(messages[-1].content.encode(), add_bos=False)
    # Most of the new message (its first digits may match an earlier test's), the markup.
    assert prompt_read >= len(new) - 6
    assert answer_read <= 1 + 12  # the last prompt token again (for its logits), the answer

    # A busy model is not waited for: the reading ahead is skipped.
    with llm.lock:  # type: ignore[attr-defined]
        assert llm.prefill(messages) is False


def test_a_pass_that_ends_for_a_tool_call_saves_no_state(
    local_providers: Providers, model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first step when it chooses a call, and the call written under the grammar: the
    answer after the call's result holds their prompt and more, so their states would only
    take others' room (17 MiB each on the 1.5B model, with the tools' specs in the prompt)."""
    from core.tools import ToolCall
    from core.tools.builtin import builtin_tools, toolset_for

    llm = local_providers.llm
    monkeypatch.setattr(llm, "calls_tools", True)
    monkeypatch.setattr(llm, "tool_threshold", 1e-9)  # every first step leans to a call
    specs = toolset_for(builtin_tools(), channel="api", transfer_number=None, keypad=False).specs()
    messages = [
        ChatMessage("system", "You are a voice assistant with tools."),
        ChatMessage("user", f"({time.time_ns()}) What is 45 times 12?"),
    ]
    saved = len(model.cache.cache_state) if model.cache is not None else 0
    out = list(llm.stream(messages, max_tokens=32, tools=specs))
    if model.cache is None:
        return
    # A call: nothing saved. The grammar's way out (no tool after all): the answer in words,
    # saved as any answer is.
    wrote_a_call = any(isinstance(part, ToolCall) for part in out)
    assert len(model.cache.cache_state) == saved + (0 if wrote_a_call else 1), out
    assert bool(model.cache)  # on again for the next answer
