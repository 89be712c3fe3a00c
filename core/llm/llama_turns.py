"""An answer that may yet be withdrawn steps aside, between two tokens, for another user's turn.

llama.cpp has one KV cache, so the model's lock (`FairLock`) is held for a whole answer. A
live conversation answers at the end of a pause before the user has heard anything, and takes
the answer back if they go on talking; a nonstop talker's answers, each withdrawn a moment
later, held the model again and again, and another user's turn waited behind each. Now such an
answer (its ticket `defers`, see `core.concurrency.deferring`) steps aside between two tokens
when another owner's call waits: it keeps its place in the cache (the KV state, as the
prompt-state cache keeps one, llama_states.py), lets the other call run to its end, and
carries on from the same token once the lock comes back. Answers that cannot be withdrawn do
not take turns: measured in the browser bench, two answers sharing the model token by token
both took longer, and another user's answer beside a nonstop talker took 1.93 x its idle time
against 1.58 x without sharing.

The point is clean: llama-cpp-python's generator is suspended at the `yield` of a sampled
token, and its next step is to decode that token. Between the two, the model holds nothing
but the KV cache, the token ids and the sampler (which `generate` keeps on the model object,
with the repetition history and any logits processor), and all of them are put back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.concurrency import FairLock, Holding, Ticket
from core.llm.llama_states import load_state, save_state


@dataclass
class _Kept:
    """What an answer had in the model when it stepped aside."""

    state: Any
    sampler: Any
    mirostat_mu: Any
    skip: Any

    @classmethod
    def of(cls, model: Any) -> _Kept:
        cache = model.cache
        return cls(
            state=save_state(model),
            sampler=model._sampler,
            mirostat_mu=model._mirostat_mu,
            skip=getattr(cache, "skip", None),
        )

    def restore(self, model: Any) -> None:
        load_state(model, self.state)
        model._sampler = self.sampler
        model._mirostat_mu = self.mirostat_mu
        if self.skip is not None and model.cache is not None:
            model.cache.skip = self.skip


class TakingTurns(Holding):
    """The model's lock as one answer holds it: `between_tokens` lets others in when due."""

    def __init__(self, model: Any, lock: FairLock, ticket: Ticket) -> None:
        super().__init__(lock, ticket)
        self.model = model

    def between_tokens(self) -> None:
        """Step aside if this answer defers and another owner waits; back with the model as it
        was. `Abandoned` (without the lock) if the answer is dropped meanwhile."""
        if not self.lock.others_first(self.ticket):
            return
        kept = _Kept.of(self.model)
        self.step_aside()
        kept.restore(self.model)
