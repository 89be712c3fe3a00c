"""A user's conversation sessions and their turns."""

from __future__ import annotations

from fastapi import APIRouter, Response

from core import language, personalities
from core.concurrency import run_blocking
from core.history import SessionRecord, TurnRecord
from webapp.deps import CurrentUser, StateDep
from webapp.errors import documented
from webapp.schemas import (
    RealtimeTimings,
    SessionDetail,
    SessionPublic,
    SessionUpdate,
    Timings,
    ToolCallPublic,
    TurnPublic,
)

router = APIRouter(prefix="/sessions", tags=["sessions"])


def session_public(record: SessionRecord) -> SessionPublic:
    return SessionPublic(
        id=record.id,
        title=record.title,
        channel=record.channel,
        personality=record.personality,
        language=record.language,
        created_at=record.created_at,
        updated_at=record.updated_at,
        turn_count=record.turn_count,
    )


def turn_public(turn: TurnRecord) -> TurnPublic:
    return TurnPublic(
        id=turn.id,
        source=turn.source,
        user_text=turn.user_text,
        answer=turn.answer,
        status=turn.status,
        language=turn.language,
        personality=turn.personality,
        stt_provider=turn.stt_provider,
        llm_provider=turn.llm_provider,
        fallback=turn.fallback,
        audio_seconds=turn.audio_seconds,
        timings=Timings(
            stt_ms=turn.stt_ms,
            llm_first_token_ms=turn.llm_first_token_ms,
            total_ms=turn.total_ms,
        ),
        realtime=RealtimeTimings(
            transcript_ms=turn.eos_transcript_ms,
            first_token_ms=turn.eos_first_token_ms,
            first_audio_ms=turn.eos_first_audio_ms,
        )
        if turn.eos_first_token_ms is not None or turn.eos_transcript_ms is not None
        else None,
        interrupted=turn.interrupted,
        tool_calls=[ToolCallPublic(**call) for call in turn.tool_calls or ()],
        created_at=turn.created_at,
        answered_at=turn.answered_at,
    )


@router.get("", response_model=list[SessionPublic], responses=documented(401))
async def list_sessions(user: CurrentUser, state: StateDep) -> list[SessionPublic]:
    """My sessions, most recent first."""
    records = await run_blocking(lambda: state.store.list_sessions(user_id=user.id))
    return [session_public(r) for r in records]


@router.get("/{session_id}", response_model=SessionDetail, responses=documented(401, 404))
async def get_session(session_id: str, user: CurrentUser, state: StateDep) -> SessionDetail:
    """One of my sessions with all its turns (404 for anyone else's)."""
    record = await run_blocking(
        lambda: state.store.get_session(user_id=user.id, session_id=session_id)
    )
    turns = await run_blocking(
        lambda: state.store.list_turns(user_id=user.id, session_id=session_id)
    )
    return SessionDetail(
        **session_public(record).model_dump(),
        custom_prompt=record.custom_prompt,
        turns=[turn_public(t) for t in turns],
    )


@router.patch(
    "/{session_id}", response_model=SessionPublic, responses=documented(400, 401, 404, 413, 422)
)
async def update_session(
    session_id: str, body: SessionUpdate, user: CurrentUser, state: StateDep
) -> SessionPublic:
    """Override the personality or language (or rename) for this session only."""
    changes = body.model_dump(include=body.model_fields_set)
    if changes.get("personality"):
        custom = changes.get("custom_prompt") or user.custom_prompt
        if changes["personality"] == personalities.CUSTOM and not custom:
            current = await run_blocking(
                lambda: state.store.get_session(user_id=user.id, session_id=session_id)
            )
            custom = current.custom_prompt
        personalities.validate(changes["personality"], custom)
    if "language" in changes:
        changes["language"] = language.validate(changes["language"])
    record = await run_blocking(
        lambda: state.store.update_session(user_id=user.id, session_id=session_id, **changes)
    )
    return session_public(record)


@router.delete("/{session_id}", status_code=204, responses=documented(401, 404))
async def delete_session(session_id: str, user: CurrentUser, state: StateDep) -> Response:
    """Delete one of my sessions and its turns."""
    await run_blocking(lambda: state.store.delete_session(user_id=user.id, session_id=session_id))
    return Response(status_code=204)
