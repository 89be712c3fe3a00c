"""Local answers with llama.cpp on the bundled Qwen2.5 0.5B instruct GGUF (or any GGUF)."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from core.concurrency import FairLock, current_ticket, raise_if_abandoned
from core.errors import ProviderError
from core.llm import ChatMessage
from core.llm.doubt import DoubtRule, Meter, Unsure, scored
from core.llm.llama_runtime import LlamaRuntime, register_backends
from core.llm.llama_states import keep_states
from core.llm.llama_turns import TakingTurns
from core.llm.tool_choice import NEVER, CallChoice, call_openers
from core.llm.tool_text import NO_TOOL, ToolCallText, call_schema, read_calls
from core.memory import hand_back
from core.tools import JsonObject, ToolCall

logger = logging.getLogger(__name__)

_PARAMS_LOCK = threading.Lock()


@contextmanager
def model_params(*, extra_buffers: bool) -> Iterator[None]:
    """llama-cpp-python's `Llama()` has no `use_extra_bufts` argument and loads the model inside
    its constructor, from `llama_model_default_params()`: for the length of one load, those
    defaults carry the choice (under a lock, so two loads never see each other's)."""
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params

    def params() -> Any:
        chosen = original()
        chosen.use_extra_bufts = extra_buffers
        return chosen

    with _PARAMS_LOCK:
        lib.llama_model_default_params = params
        try:
            yield
        finally:
            lib.llama_model_default_params = original


def load_llama(model_path: Path, *, context_tokens: int, threads: int, extra_buffers: bool) -> Any:
    """A `llama_cpp.Llama` on `model_path`; ValueError if llama.cpp cannot load the file."""
    try:
        from llama_cpp import Llama
    except ImportError as exc:  # pragma: no cover - dependency hint
        raise ImportError("Install llama-cpp-python: run scripts/install.sh") from exc
    register_backends()
    with model_params(extra_buffers=extra_buffers):
        return Llama(
            model_path=str(model_path),
            n_ctx=context_tokens,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )


class LlamaCppLLM:
    """One llama.cpp model shared by every request: generations queue fairly (`FairLock`), and
    one that may yet be withdrawn steps aside for another user's (`TakingTurns`)."""

    is_local = True

    def __init__(
        self,
        model_path: Path,
        *,
        context_tokens: int = 4096,
        threads: int = 2,
        temperature: float = 0.7,
        name: str | None = None,
        runtime: LlamaRuntime,
        state_cache_bytes: int = 0,
        tool_threshold: float = 0.35,
        calls_tools: bool = True,
        doubt: DoubtRule | None = None,
    ) -> None:
        self.name = name or f"local:{model_path.stem}"
        self.context_tokens = context_tokens
        self.temperature = temperature
        self.runtime = runtime  # the build, CPU features and extra buffers, for /health
        self.lock = FairLock()
        self.tool_threshold = tool_threshold  # see core.llm.tool_choice
        self.calls_tools = calls_tools
        self.doubt = doubt  # when its first clause scores low, the answer says it is unsure
        self._openers: Any = None  # the tokens that could open a tool call, found once
        self.model = load_llama(
            model_path,
            context_tokens=context_tokens,
            threads=threads,
            extra_buffers=runtime.extra_buffers.use,
        )
        keep_states(self.model, state_cache_bytes)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def prefill(self, messages: list[ChatMessage]) -> bool:
        """Read the prompt of `messages` now (the user is still pausing), exactly as `stream`
        will format it, so the answer finds it in the cache and only samples. Skipped when the
        model is busy: it never makes anyone wait."""
        if not self.lock.try_acquire():
            return False
        try:
            payload = local_messages(messages)
            # One token generated: the cheapest call that formats and reads the prompt the
            # same way as an answer does.
            self.model.create_chat_completion(messages=payload, max_tokens=1, temperature=0.0)
            return True
        except Exception:
            logger.exception("Reading a prompt ahead failed")
            return False
        finally:
            self.lock.release()

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        tools: list[JsonObject] | None = None,
    ) -> Iterator[str | ToolCall | Unsure]:
        """Stream the answer. With `tools`, the model's chat template offers them (Qwen2.5
        lists them in the system prompt); its first token chooses between a call and words
        (`core.llm.tool_choice`), and a call is written under a grammar and yielded whole.
        An answer of its own (no tool offered or used) is scored on its first clause when
        `doubt` is set, and `Unsure` follows the clause if it scored low."""
        with TakingTurns(self.model, self.lock, current_ticket()) as turns:
            try:
                payload = local_messages(messages)
                if not self.calls_tools:
                    tools = None
                if not tools:
                    after_tools = any(m.role == "tool" for m in messages)
                    yield from self._words(turns, payload, max_tokens, after_tools=after_tools)
                    return
                choice = self._choice()
                reader = ToolCallText()
                # A first step that ends for a call leaves no state saved (llama_states.py).
                with self._unsaved(lambda: choice.calling):
                    for delta in self._deltas(turns, payload, tools, max_tokens, choice=choice):
                        yield from reader.feed(delta)
                yield from reader.finish()
                if choice.calling or reader.malformed:
                    with self._unsaved(lambda: True):
                        written = "".join(
                            self._deltas(turns, payload, tools, max_tokens, constrained=True)
                        )
                    # The grammar sampler's passing 87 MiB, handed back (core/memory.py).
                    hand_back()
                    calls = [
                        dataclasses.replace(c, weight=choice.weight)
                        for c in read_calls(written)
                        if c.name != NO_TOOL
                    ]
                    logger.info("The local model calls %s", [c.name for c in calls] or "no tool")
                    if calls:
                        yield from calls
                    elif choice.calling:
                        # It leaned towards a call, then chose none: the answer in words.
                        words = self._choice(threshold=NEVER)
                        yield from self._deltas(turns, payload, tools, max_tokens, choice=words)
            except GeneratorExit:
                raise
            except Exception as exc:
                logger.exception("llama.cpp generation failed")
                raise ProviderError(f"Local LLM failed: {exc}") from exc

    def _words(
        self, turns: TakingTurns, payload: Any, max_tokens: int, *, after_tools: bool
    ) -> Iterator[str | Unsure]:
        """An answer in words, nothing to call. A model that has seen tools (their results,
        or the guidance in the system prompt) may still write a call as text: once the tokens
        that open one are known, its answer is words. Its first clause is scored when `doubt`
        is set, unless it tells a tool's result."""
        known = self._openers is not None
        words = self._choice(threshold=NEVER) if after_tools or known else None
        if self.doubt is None or after_tools:
            yield from self._deltas(turns, payload, None, max_tokens, choice=words)
            return
        meter = Meter(self.model.detokenize)
        deltas = self._deltas(turns, payload, None, max_tokens, choice=words, meter=meter)
        yield from scored(deltas, meter, self.doubt)

    @contextmanager
    def _unsaved(self, skip: Callable[[], bool]) -> Iterator[None]:
        """Within the block, the model's state cache neither restores nor saves a state while
        `skip()` is true (`keep_states`); the next answer's state holds this one's prompt."""
        states = self.model.cache
        if states is None:
            yield
            return
        states.skip = skip
        try:
            yield
        finally:
            states.skip = lambda: False

    def _choice(self, threshold: float | None = None) -> CallChoice:
        if self._openers is None:
            self._openers = call_openers(self.model)
        chosen = self.tool_threshold if threshold is None else threshold
        return CallChoice(self._openers, self.model.token_eos(), chosen)

    def _deltas(
        self,
        turns: TakingTurns,
        payload: Any,
        tools: list[JsonObject] | None,
        max_tokens: int,
        *,
        choice: CallChoice | None = None,
        constrained: bool = False,
        meter: Meter | None = None,
    ) -> Iterator[str]:
        grammar = None
        if constrained and tools:
            from llama_cpp import LlamaGrammar

            grammar = LlamaGrammar.from_json_schema(json.dumps(call_schema(tools)), verbose=False)
        processors = None
        # The meter first: it reads the model's own distribution, before a choice bars tokens.
        chosen = [p for p in (meter, choice) if p is not None]
        if chosen:
            from llama_cpp import LogitsProcessorList

            processors = LogitsProcessorList(chosen)
        chunks = self.model.create_chat_completion(
            messages=payload,
            tools=tools or None,
            max_tokens=max_tokens,
            # A call is written greedily: its arguments are no place for variety.
            temperature=0.0 if constrained else self.temperature,
            stream=True,
            grammar=grammar,
            logits_processor=processors,
        )
        for chunk in cast(Iterator[dict[str, Any]], chunks):
            # A call written whole (under the grammar) yields nothing on the way: an answer
            # nobody waits for any more stops here, token by token, all the same.
            raise_if_abandoned()
            turns.between_tokens()  # another user's turn may go first for a moment
            delta = chunk["choices"][0]["delta"].get("content")
            if delta:
                yield str(delta)


def local_messages(messages: list[ChatMessage]) -> Any:
    """The messages as llama-cpp-python hands them to the model's chat template: a call's
    arguments stay an object (Qwen's template writes them with `tojson`)."""
    payload: list[JsonObject] = []
    for m in messages:
        message: JsonObject = {"role": m.role, "content": m.content}
        if m.tool_calls:
            message["tool_calls"] = [
                {"type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in m.tool_calls
            ]
        payload.append(message)
    return payload
