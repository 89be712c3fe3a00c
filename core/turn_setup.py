"""A turn before its answer: the user's message stored (or the pending transcription found),
its language and personality chosen, a computed fact found (core/facts), and the prompt
built."""

from __future__ import annotations

from core.config import Settings
from core.errors import NothingToAnswerError
from core.facts import Fact
from core.history import HistoryStore, SessionRecord, TurnRecord, UserRecord
from core.llm import ChatMessage
from core.prompting import Prompts
from core.turns.context import TurnContext


def _messages(
    prompts: Prompts,
    history: list[TurnRecord],
    text: str,
    lang: str,
    personality: tuple[str, str | None],
    reserved: int,
    fact: Fact | None,
) -> list[ChatMessage]:
    """The prompt, with the fact's note (if any) ending the user's message."""
    name, custom = personality
    note = fact.note if fact else None
    return prompts.build_messages(
        history, text, language=lang, personality=name, custom=custom, reserved=reserved, note=note
    )


def prepare_turn(
    store: HistoryStore,
    prompts: Prompts,
    settings: Settings,
    user: UserRecord,
    session: SessionRecord,
    text: str,
    personality: str | None,
    reserved: int,
) -> tuple[TurnRecord, str, list[ChatMessage], Fact | None]:
    """Store the user's turn (or find the pending transcription) and build the prompt, with
    the fact the message asks for (if it asks for one) at its end."""
    context = TurnContext(user, session, settings)
    turns = store.list_turns(user_id=user.id, session_id=session.id)
    history = [t for t in turns if t.status == "answered"]
    if text:
        lang, fact = context.typed(text, prior=turns[-1].language if turns else None)
        name, custom = context.personality(personality)
        # Built before the turn is stored, so a message too long for the model is refused
        # without leaving a turn behind.
        messages = _messages(prompts, history, text, lang, (name, custom), reserved, fact)
        turn = store.add_turn(
            user_id=user.id,
            session_id=session.id,
            source="text",
            user_text=text,
            language=lang,
            status="answering",
        )
        return turn, name, messages, fact
    pending = [t for t in turns if t.status == "pending"]
    if not pending:
        raise NothingToAnswerError(
            "No text given and the session has no transcription waiting for an answer."
        )
    turn = pending[-1]
    name, custom = context.personality(personality, turn.personality)
    # Heard in its language already: the fact is read in that one only.
    fact = context.fact(turn.user_text, turn.language)
    messages = _messages(
        prompts, history, turn.user_text, turn.language, (name, custom), reserved, fact
    )
    # `answering` until stored: a turn still so at the next start was cut off by a stop.
    store.set_turn_status(turn_id=turn.id, status="answering")
    return turn, name, messages, fact
