"""Phone calls the agent places for me, and the record of my calls."""

from __future__ import annotations

from fastapi import APIRouter

from webapp.deps import CurrentUser, StateDep
from webapp.errors import documented
from webapp.schemas import CallCreate, CallPlaced, CallPublic

router = APIRouter(prefix="/calls", tags=["calls"])


@router.post(
    "",
    status_code=201,
    response_model=CallPlaced,
    responses=documented(400, 401, 403, 413, 422, 502, 503),
)
async def place_call(body: CallCreate, user: CurrentUser, state: StateDep) -> CallPlaced:
    """Have the agent call a number through Twilio and talk with whoever answers. Only the
    accounts in OUTBOUND_CALLERS may (403 for others); 503 when the server has no Twilio
    account set up for it, 502 with Twilio's reason when Twilio refuses the call, cannot be
    reached, or answers with something that is not a call."""
    call = await state.outbound.call(user=user, to=body.to)
    assert call.record.session_id is not None  # recorded in a new session just now
    return CallPlaced(
        call_sid=call.placed.call_sid,
        status=call.record.status,
        to=call.placed.to_masked,
        session_id=call.record.session_id,
    )


@router.get("", response_model=list[CallPublic], responses=documented(401))
async def list_calls(user: CurrentUser, state: StateDep) -> list[CallPublic]:
    """The calls placed for me, newest first; one whose session I deleted stays listed, its
    `session_id` null."""
    return [CallPublic.model_validate(r) for r in await state.outbound.calls(user)]
