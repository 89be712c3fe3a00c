"""Calls the agent places: who may place them, to which numbers, and their records."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Protocol

from core.callers import ANONYMOUS, CHANNEL, CallerDirectory
from core.concurrency import run_blocking
from core.config import Settings
from core.errors import InvalidInputError, NotConfiguredError, PermissionDeniedError
from core.history import CallRecord, HistoryStore, UserRecord

logger = logging.getLogger(__name__)

# E.164: a plus, a country code that does not start with 0, 7 to 15 digits in all, nothing
# else. Stricter than what Twilio accepts on purpose: "+1 (415) 555-0123" could be read two
# ways by two systems; one spelling cannot.
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
_E164 = re.compile(E164_PATTERN)


@dataclass(frozen=True)
class PlacedCall:
    """A call the carrier accepted: its id, its first status, and the number as logs show it."""

    call_sid: str
    status: str  # Twilio's: "queued" at first, then "ringing", "in-progress", ...
    to_masked: str  # "***23": the number's last two digits only


class Dialer(Protocol):
    """Places a phone call whose audio the agent's own webhooks serve."""

    async def place_call(self, *, to: str) -> PlacedCall:
        """Start a call to `to` (E.164). Raises `UpstreamError` with the carrier's reason when
        it refuses the call or cannot be reached."""
        ...


def check_number(to: str) -> str:
    """`to` when it is an E.164 number; `InvalidInputError` otherwise (never echoing it)."""
    if not _E164.fullmatch(to):
        raise InvalidInputError(
            "The number to call must be in E.164 form: '+', the country code and the number, "
            "7 to 15 digits, no spaces (for example +14155550123)."
        )
    return to


def missing_settings(settings: Settings) -> list[str]:
    """The settings outbound calls still need, by their environment names (empty: all set)."""
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    values = {
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": token,
        "TWILIO_FROM_NUMBER": settings.twilio_from_number,
        "PUBLIC_BASE_URL": settings.public_base_url,
    }
    return [name for name, value in values.items() if not (value or "").strip()]


def may_call_out(settings: Settings, user: UserRecord) -> bool:
    """Whether `user` may place calls: only the accounts OUTBOUND_CALLERS names. The admin
    account gets no exception: calls cost money and reach strangers, so the operator grants
    them by name, the admin included (OUTBOUND_CALLERS=admin)."""
    return user.username in settings.outbound_callers


@dataclass(frozen=True)
class OutboundCall:
    """A call placed for a user: the carrier's answer and the record that keeps it."""

    placed: PlacedCall
    record: CallRecord


class Outbound:
    """Places calls for signed-in users and records them like incoming ones: a phone session
    of the user, a call record under the callee's keyed hash (never the number)."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: HistoryStore,
        callers: CallerDirectory,
        dialer: Dialer | None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.callers = callers
        self.dialer = dialer

    def allowed(self, user: UserRecord) -> bool:
        return may_call_out(self.settings, user)

    async def call(self, *, user: UserRecord, to: str) -> OutboundCall:
        """Call `to` for `user`. Refusals, in this order: `PermissionDeniedError` (the user
        may not), `NotConfiguredError` (no dialer; names the missing settings),
        `InvalidInputError` (not E.164), `UpstreamError` (the carrier said no)."""
        if not self.allowed(user):
            raise PermissionDeniedError(
                f"The account '{user.username}' may not place calls: the server's operator "
                "grants it by adding the name to OUTBOUND_CALLERS."
            )
        if self.dialer is None:
            missing = missing_settings(self.settings) or ["a working Twilio set-up"]
            raise NotConfiguredError(
                f"Outbound calls are not set up on this server: it needs {', '.join(missing)}."
            )
        number = check_number(to)
        placed = await self.dialer.place_call(to=number)
        # One worker hop for the three writes: once begun, a request cancelled meanwhile
        # still leaves the call recorded, never a session without its call.
        record = await run_blocking(self._record, user, number, placed)
        logger.info(
            "User %s called %s: call %s, %s",
            user.id,
            placed.to_masked,
            placed.call_sid,
            placed.status,
        )
        return OutboundCall(placed=placed, record=record)

    def _record(self, user: UserRecord, number: str, placed: PlacedCall) -> CallRecord:
        session = self.store.create_session(user_id=user.id, channel=CHANNEL)
        self.store.begin_call(
            call_sid=placed.call_sid,
            caller_id=self.callers.caller_id(number) or ANONYMOUS,
            user_id=user.id,
            session_id=session.id,
        )
        record = self.store.update_call(call_sid=placed.call_sid, status=placed.status[:16])
        assert record is not None  # begun just above
        return record

    async def calls(self, user: UserRecord) -> list[CallRecord]:
        """The calls the user placed, newest first, those whose session they deleted too."""
        return await self.store.aio.list_calls(user_id=user.id)
