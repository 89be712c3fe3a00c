"""An answer that may yet be withdrawn (a spoken turn's, unheard) steps aside between two
tokens for another user's: the other answer's first words come while it is still being
written, and each answer, the first put back where it stepped aside, is word for word what it
is alone. An answer that cannot be withdrawn keeps the model to its end."""

from __future__ import annotations

import threading
import time
from typing import Any

from core.concurrency import Ticket, working_on
from core.llm import ChatMessage

LONG = [
    ChatMessage("system", "You are a helpful assistant."),
    ChatMessage("user", "Tell me a long story about a lighthouse keeper and his cat."),
]
SHORT = [
    ChatMessage("system", "Tu es un assistant vocal. Réponds toujours en français."),
    ChatMessage("user", "Quelle est la capitale de l'Italie ?"),
]


def answer(
    llm: Any,
    messages: list[ChatMessage],
    owner: str,
    log: list[tuple[str, float]],
    *,
    defers: bool = False,
) -> str:
    """The answer, streamed as `owner`'s work (stepping aside while `defers`); logs (owner,
    time) of each piece."""
    pieces = []
    ticket = Ticket(owner=owner)
    ticket.defers = (lambda: True) if defers else None
    with working_on(ticket):
        for piece in llm.stream(messages, max_tokens=64):
            log.append((owner, time.monotonic()))
            pieces.append(piece)
    return "".join(pieces)


def test_another_users_answer_starts_while_an_unheard_one_is_written(local_llm: Any) -> None:
    alone: list[tuple[str, float]] = []
    # Each asked twice alone: the second time its prompt comes from the state cache, as it
    # will below (a prompt read in one batch and one restored can differ in the last digits,
    # enough to change a greedy word on the small model).
    for _ in range(2):
        alone.clear()
        long_alone = answer(local_llm, LONG, "talker", alone)
        short_alone = answer(local_llm, SHORT, "other", alone)
    assert len([o for o, _ in alone if o == "talker"]) > 20  # long enough to be overtaken

    log: list[tuple[str, float]] = []
    results: dict[str, str] = {}
    talker = threading.Thread(
        target=lambda: results.update(talker=answer(local_llm, LONG, "talker", log, defers=True))
    )
    talker.start()
    while len(log) < 3:  # the talker's answer is being written
        time.sleep(0.005)
    other = threading.Thread(
        target=lambda: results.update(other=answer(local_llm, SHORT, "other", log))
    )
    other.start()
    talker.join(120)
    other.join(120)

    # The other answer began before the talker's ended, and the talker's went on after it.
    talker_times = [t for o, t in log if o == "talker"]
    other_times = [t for o, t in log if o == "other"]
    assert other_times[0] < talker_times[-1]
    assert any(t > other_times[-1] for t in talker_times)
    # Put back exactly as it was: the same greedy words as alone.
    assert results == {"talker": long_alone, "other": short_alone}


def test_an_answer_that_cannot_be_withdrawn_keeps_the_model_to_its_end(local_llm: Any) -> None:
    """A typed or heard answer goes first whole; so does any answer for its own owner's."""
    for owner, defers in (("other", False), ("talker", True)):
        first: list[tuple[str, float]] = []
        second: list[tuple[str, float]] = []
        thread = threading.Thread(
            target=lambda d=defers, log=first: answer(local_llm, LONG, "talker", log, defers=d)
        )
        thread.start()
        while len(first) < 3:
            time.sleep(0.005)
        answer(local_llm, SHORT, owner, second)
        thread.join(120)
        assert second[0][1] > first[-1][1], (owner, defers)
