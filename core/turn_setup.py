"""A turn before its answer: the user's message stored (or the pending transcription found),
its language and personality chosen, and the prompt built."""

from __future__ import annotations

from core import language
from core.config import Settings
from core.errors import NothingToAnswerError
from core.history import HistoryStore, SessionRecord, TurnRecord, UserRecord
from core.llm import ChatMessage
from core.prompting import Prompts, personality_of, pinned_language


def prepare_turn(
    store: HistoryStore,
    prompts: Prompts,
    settings: Settings,
    user: UserRecord,
    session: SessionRecord,
    text: str,
    personality: str | None,
    reserved: int,
) -> tuple[TurnRecord, str, list[ChatMessage]]:
    """Store the user's turn (or find the pending transcription) and build the prompt."""
    turns = store.list_turns(user_id=user.id, session_id=session.id)
    history = [t for t in turns if t.status == "answered"]
    if text:
        pinned = pinned_language(user, session)
        prior = turns[-1].language if turns else settings.default_language
        lang = pinned or language.detect(text, fallback=prior)
        name, custom = personality_of(settings.default_personality, user, session, personality)
        # Built before the turn is stored, so a message too long for the model is refused
        # without leaving a turn behind.
        messages = prompts.build_messages(
            history, text, language=lang, personality=name, custom=custom, reserved=reserved
        )
        turn = store.add_turn(
            user_id=user.id,
            session_id=session.id,
            source="text",
            user_text=text,
            language=lang,
            status="answering",
        )
        return turn, name, messages
    pending = [t for t in turns if t.status == "pending"]
    if not pending:
        raise NothingToAnswerError(
            "No text given and the session has no transcription waiting for an answer."
        )
    turn = pending[-1]
    name, custom = personality_of(
        settings.default_personality, user, session, personality, turn.personality
    )
    messages = prompts.build_messages(
        history,
        turn.user_text,
        language=turn.language,
        personality=name,
        custom=custom,
        reserved=reserved,
    )
    # `answering` until stored: a turn still so at the next start was cut off by a stop.
    store.set_turn_status(turn_id=turn.id, status="answering")
    return turn, name, messages
