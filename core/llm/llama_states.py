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
model gets state functions that move the KV cache and the token ids only, each in one buffer:
a state is 28 KiB a token on the 1.5B model (17 MiB for a prompt with the tools' specs), and
a second copy on the way in or out was that much more memory at its peak (issue 23).

A pass whose state nobody will ask for again is not saved (`KeptStates.skip`): the tool
choice's first step when it ends for a call, and the call written under the grammar. The
answer that follows holds the same prompt and more, and is saved.
"""

from __future__ import annotations

import ctypes
import types
from collections.abc import Callable
from typing import Any, cast

__all__ = ["keep_states", "load_state", "save_state"]


def _never() -> bool:
    return False


def keep_states(model: Any, capacity_bytes: int) -> None:
    """Give a `llama_cpp.Llama` an in-memory cache of its recent states, up to
    `capacity_bytes` (least recently used dropped first); 0 leaves it without one."""
    if capacity_bytes <= 0:
        return
    from llama_cpp import LlamaRAMCache

    class KeptStates(LlamaRAMCache):
        """The cache, off while `skip()` says so: llama-cpp-python restores and saves a
        state only when its cache is true, once before the prompt and once after the
        answer, so `skip` is asked at both moments."""

        def __init__(self, capacity_bytes: int) -> None:
            super().__init__(capacity_bytes=capacity_bytes)
            self.skip: Callable[[], bool] = _never

        def __bool__(self) -> bool:
            return not self.skip()

    model.save_state = types.MethodType(save_state, model)
    model.load_state = types.MethodType(load_state, model)
    model.set_cache(KeptStates(capacity_bytes=capacity_bytes))


def save_state(self: Any) -> Any:
    """The model's KV cache and token ids, without the logits (see the module docstring)."""
    import llama_cpp
    import numpy as np
    from llama_cpp.llama import LlamaState

    size = int(llama_cpp.llama_state_get_size(self._ctx.ctx))
    data = bytearray(size)  # llama.cpp writes straight into what the cache keeps
    written = int(
        llama_cpp.llama_state_get_data(
            self._ctx.ctx, (ctypes.c_uint8 * size).from_buffer(data), size
        )
    )
    if written > size:
        raise RuntimeError("llama.cpp wrote more state than it said it would")
    del data[written:]  # in place: no second copy
    return LlamaState(
        input_ids=self.input_ids[: self.n_tokens].copy(),
        scores=np.zeros((0, 0), dtype=np.single),  # never read: see the module docstring
        n_tokens=self.n_tokens,
        llama_state=cast(bytes, data),  # bytes-like, and read as a buffer only
        llama_state_size=written,
        seed=self._seed,
    )


def load_state(self: Any, state: Any) -> None:
    """Put back a state that `save_state` took."""
    import llama_cpp

    self.input_ids[: state.n_tokens] = state.input_ids
    self.n_tokens = state.n_tokens
    self._requires_eval = True  # the next prompt token is decoded before any sampling
    self._seed = state.seed
    # The kept bytes themselves: llama.cpp only reads them, so no copy is made.
    buffer = (ctypes.c_uint8 * state.llama_state_size).from_buffer(state.llama_state)
    if llama_cpp.llama_state_set_data(self._ctx.ctx, buffer, state.llama_state_size) != (
        state.llama_state_size
    ):
        raise RuntimeError("llama.cpp refused a saved state")
