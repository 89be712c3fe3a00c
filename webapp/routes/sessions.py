"""A user's conversation sessions and their turns."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response

from core import language, personalities
from webapp.deps import CurrentUser, StateDep
from webapp.errors import documented
from webapp.schemas import SessionDetail, SessionPublic, SessionUpdate

router = APIRouter(prefix="/sessions", tags=["sessions"])


@router.get("", response_model=list[SessionPublic], responses=documented(401))
async def list_sessions(user: CurrentUser, state: StateDep) -> list[SessionPublic]:
    """My sessions, most recent first."""
    records = await state.store.aio.list_sessions(user_id=user.id)
    return [SessionPublic.model_validate(r) for r in records]


@router.get("/{session_id}", response_model=SessionDetail, responses=documented(401, 404))
async def get_session(session_id: str, user: CurrentUser, state: StateDep) -> SessionDetail:
    """One of my sessions with all its turns (404 for anyone else's)."""
    record = await state.store.aio.get_session(user_id=user.id, session_id=session_id)
    turns = await state.store.aio.list_turns(user_id=user.id, session_id=session_id)
    return SessionDetail.model_validate({**asdict(record), "turns": turns})


@router.patch(
    "/{session_id}",
    response_model=SessionPublic,
    responses=documented(400, 401, 404, 413, 422, 507),
)
async def update_session(
    session_id: str, body: SessionUpdate, user: CurrentUser, state: StateDep
) -> SessionPublic:
    """Override the personality or language (or rename) for this session only."""
    changes = body.model_dump(include=body.model_fields_set)
    if changes.get("personality"):
        custom = changes.get("custom_prompt") or user.custom_prompt
        if changes["personality"] == personalities.CUSTOM and not custom:
            current = await state.store.aio.get_session(user_id=user.id, session_id=session_id)
            custom = current.custom_prompt
        personalities.validate(changes["personality"], custom)
    if "language" in changes:
        changes["language"] = language.validate(changes["language"])
    record = await state.store.aio.update_session(user_id=user.id, session_id=session_id, **changes)
    return SessionPublic.model_validate(record)


@router.delete("/{session_id}", status_code=204, responses=documented(401, 404, 507))
async def delete_session(session_id: str, user: CurrentUser, state: StateDep) -> Response:
    """Delete one of my sessions and its turns."""
    await state.store.aio.delete_session(user_id=user.id, session_id=session_id)
    return Response(status_code=204)
