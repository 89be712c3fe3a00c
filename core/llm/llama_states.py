"""Recent prompts' KV states kept in memory, so a conversation does not read its history again.

llama.cpp keeps one KV cache: the tokens of the last prompt and answer. The next prompt reuses
the part it shares with them and reads the rest. That is all a single conversation needs, but
the model is shared: after another user's turn (or a turn in another language, whose system
prompt differs), the shared part is short and the whole history is read again, at the local
model's reading speed (roughly 150-250 tokens a second on two cores).

llama-cpp-python can keep states in a `LlamaRAMCache`, restoring the one with the longest
common prefix before a prompt is read. Its own `save_state` and `load_state` also copy and clear
the logits array, `n_batch` rows of the whole vocabulary (about 300 MB for Qwen), which costs
more than it saves; with `logits_all=False` those logits are never read (sampling happens inside
llama.cpp, and a restored state is always followed by at least one decoded token). So the
model gets state functions that move the KV cache and the token ids only.
"""

from __future__ import annotations

import ctypes
import types
from typing import Any

__all__ = ["keep_states"]


def keep_states(model: Any, capacity_bytes: int) -> None:
    """Give a `llama_cpp.Llama` an in-memory cache of its recent states, up to
    `capacity_bytes` (least recently used dropped first); 0 leaves it without one."""
    if capacity_bytes <= 0:
        return
    from llama_cpp import LlamaRAMCache

    model.save_state = types.MethodType(_save_state, model)
    model.load_state = types.MethodType(_load_state, model)
    model.set_cache(LlamaRAMCache(capacity_bytes=capacity_bytes))


def _save_state(self: Any) -> Any:
    import llama_cpp
    import numpy as np
    from llama_cpp.llama import LlamaState

    size = llama_cpp.llama_state_get_size(self._ctx.ctx)
    buffer = (ctypes.c_uint8 * int(size))()
    written = int(llama_cpp.llama_state_get_data(self._ctx.ctx, buffer, size))
    if written > int(size):
        raise RuntimeError("llama.cpp wrote more state than it said it would")
    return LlamaState(
        input_ids=self.input_ids[: self.n_tokens].copy(),
        scores=np.zeros((0, 0), dtype=np.single),  # never read: see the module docstring
        n_tokens=self.n_tokens,
        llama_state=bytes(memoryview(buffer)[:written]),
        llama_state_size=written,
        seed=self._seed,
    )


def _load_state(self: Any, state: Any) -> None:
    import llama_cpp

    self.input_ids[: state.n_tokens] = state.input_ids
    self.n_tokens = state.n_tokens
    self._requires_eval = True  # the next prompt token is decoded before any sampling
    self._seed = state.seed
    buffer = (ctypes.c_uint8 * state.llama_state_size).from_buffer_copy(state.llama_state)
    if llama_cpp.llama_state_set_data(self._ctx.ctx, buffer, state.llama_state_size) != (
        state.llama_state_size
    ):
        raise RuntimeError("llama.cpp refused a saved state")
