"""Storing a turn's answer, whatever ended it."""

from __future__ import annotations

from core.history import HistoryStore, TurnRecord
from core.tool_turns import ToolTurn
from core.turns.answer_loop import AnswerLoop


def record_answer(
    store: HistoryStore,
    turn: TurnRecord,
    *,
    personality: str,
    loop: AnswerLoop,
    tools: ToolTurn,
    answered: bool,
    total_ms: float,
) -> TurnRecord | None:
    """Store what the answer produced: `answered` when it ended, else `cancelled` (it failed,
    or the client went away) with what was generated. A turn that produced nothing is
    `pending` again, so a retry answers it; None then.

    Synchronous on purpose: it runs in an async generator's `finally`, which may run while
    the generator is being closed, where awaiting a worker is not allowed.
    """
    answer = loop.text.strip()
    if not answered and not answer and not tools.results:
        store.set_turn_status(turn_id=turn.id, status="pending")
        return None
    return store.complete_turn(
        turn_id=turn.id,
        answer=answer,
        language=turn.language,
        personality=personality,
        llm_provider=loop.provider,
        fallback=loop.reason,
        llm_first_token_ms=loop.first_token_ms,
        total_ms=total_ms + (turn.stt_ms or 0.0),
        status="answered" if answered else "cancelled",
        tool_calls=tools.records(),
    )
