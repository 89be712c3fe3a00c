"""The tasks one conversation starts, none of which may fail unnoticed.

Each turn, interruption and background write of a live conversation runs as a task of its own.
A task that raised and was never awaited used to end up as asyncio's "Task exception was never
retrieved" in the log, and the client heard nothing: a conversation whose session row could
not be written answered no message after it, without a word (issue 23). Here every failure is
retrieved when the task ends, logged once, and handed to the conversation, which tells the
client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, TypeVar

from core.concurrency import spawn_for
from core.errors import NotFoundError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What the client is told when a task of its conversation failed.
FAILED = "Something went wrong on our side with that turn; please say it again."


class Tasks:
    """Start tasks whose model calls are `owner`'s (`spawn_for`); `cancel_all` on hang-up.

    A task that fails calls `on_failure` with its exception, except for NotFoundError: the
    session or turn it wrote to was deleted meanwhile (say, from another tab), which is no
    failure of the conversation. A `watched` task (a transcription, an end-of-turn verdict,
    an answer's sender) has someone who reads its outcome and answers for a failure (the
    turn says that speech recognition failed; the VAD alone ends the turn): its failure is
    only logged, so the client is not told twice, or told of a guess nobody needed.
    """

    def __init__(self, owner: Hashable, on_failure: Callable[[BaseException], None]) -> None:
        self._owner = owner
        self._on_failure = on_failure
        self._running: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = spawn_for(self._owner, coro)
        self._running.add(task)
        task.add_done_callback(self._ended)
        return task

    def watched(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = spawn_for(self._owner, coro)
        self._running.add(task)
        task.add_done_callback(self._ended_watched)
        return task

    def cancel_all(self) -> None:
        for task in list(self._running):
            task.cancel()

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if task.cancelled():
            return
        failure = task.exception()  # retrieved: never "never retrieved"
        if failure is None:
            return
        if isinstance(failure, NotFoundError):
            logger.info("A conversation's write found its row gone: %s", failure)
            return
        logger.error("A conversation's task failed", exc_info=failure)
        self._on_failure(failure)

    def _ended_watched(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and (failure := task.exception()) is not None:
            logger.info("A conversation's task failed, for its reader to answer: %r", failure)
