"""Outbound calls through Twilio's REST API, answered by the agent's own webhooks."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from core.callers import mask
from core.concurrency import run_blocking
from core.config import Settings
from core.dialing import PlacedCall, missing_settings
from core.errors import UpstreamError
from telephony.signature import NotConfigured, TwilioSignatures

logger = logging.getLogger(__name__)

VOICE_PATH = "/twilio/voice"
STATUS_PATH = "/twilio/status"
# Every change of the call's status comes back to /twilio/status (Twilio's default: only
# "completed"), so its record follows the call from queued to completed.
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
TIMEOUT_S = 10.0  # for one request to Twilio's REST API; the SDK has no limit of its own
# A number inside a message from Twilio ("The 'To' number +14155550123 is not valid"); error
# codes (21211) are shorter.
_NUMBER = re.compile(r"\+?\d{7,15}")
# Twilio's id of a call: CA and 32 hex digits. It goes into the call's record and the API's
# answer, so anything else in its place means the answer did not come from Twilio.
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
NOT_A_CALL = (
    "Twilio answered the call request with something other than a call; the call may ring "
    "all the same, unrecorded."
)


def scrub(text: str) -> str:
    """`text` with every phone number in it masked, safe for a log line or an API answer."""
    return _NUMBER.sub(lambda m: mask(m.group()), text)


class RedirectedHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sending to `base_url` what the SDK addresses to
    https://*.twilio.com: scheme and host replaced, the path kept (after the base's own path).

    For tests and local set-ups against a stand-in of Twilio's REST API (TWILIO_API_BASE_URL):
    the SDK still builds every request itself (form, auth, headers); only where it goes
    changes."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base = urlsplit(base_url.rstrip("/"))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host == "twilio.com" or host.endswith(".twilio.com"):
            path = self.base.path + parts.path
            url = urlunsplit((self.base.scheme, self.base.netloc, path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


class TwilioDialer:
    """Places calls with the twilio SDK: from TWILIO_FROM_NUMBER, answered by
    `{PUBLIC_BASE_URL}/twilio/voice`, each status change posted to `/twilio/status`."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        public_base_url: str,
        api_base_url: str | None = None,
    ) -> None:
        http_client = (
            TwilioHttpClient(timeout=TIMEOUT_S)
            if api_base_url is None
            else RedirectedHttpClient(api_base_url, timeout=TIMEOUT_S)
        )
        self._client = Client(account_sid, auth_token, http_client=http_client)
        self._from = from_number
        self.voice_url = public_base_url.rstrip("/") + VOICE_PATH
        self.status_url = public_base_url.rstrip("/") + STATUS_PATH

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioDialer | None:
        """The dialer for these settings, or None (logged, naming what is missing) when they
        do not allow outbound calls: the account sid, auth token and number to call from, and
        the public URL whose signed webhooks serve the call."""
        missing = missing_settings(settings)
        if missing:
            if settings.twilio_account_sid or settings.twilio_from_number:
                logger.warning("Outbound calls are off: %s not set", ", ".join(missing))
            return None
        try:
            signatures = TwilioSignatures.from_settings(settings)
        except NotConfigured as exc:
            logger.warning("Outbound calls are off: %s", exc)
            return None
        assert settings.twilio_account_sid and settings.twilio_from_number  # not missing
        return cls(
            account_sid=settings.twilio_account_sid.strip(),
            auth_token=signatures.auth_token,
            from_number=settings.twilio_from_number.strip(),
            public_base_url=signatures.public_base_url,
            api_base_url=settings.twilio_api_base_url,
        )

    async def place_call(self, *, to: str) -> PlacedCall:
        """Ask Twilio to call `to`; `UpstreamError` with Twilio's reason when it refuses or
        cannot be reached."""
        return await run_blocking(self._create, to)

    def _create(self, to: str) -> PlacedCall:
        try:
            call = self._client.calls.create(
                to=to,
                from_=self._from,
                url=self.voice_url,
                method="POST",
                status_callback=self.status_url,
                status_callback_method="POST",
                status_callback_event=STATUS_EVENTS,
            )
        except TwilioRestException as exc:
            # The SDK's message starts "Unable to create record: ", then Twilio's own words.
            reason = scrub(str(exc.msg).removeprefix("Unable to create record: "))
            logger.warning("Twilio refused a call to %s: %s (%s)", mask(to), reason, exc.code)
            raise UpstreamError(f"Twilio refused the call: {reason} (error {exc.code}).") from exc
        except (RequestException, TwilioException) as exc:
            logger.warning("Twilio unreachable for a call to %s: %s", mask(to), type(exc).__name__)
            raise UpstreamError(
                f"Twilio could not be reached to place the call ({type(exc).__name__})."
            ) from exc
        except (ValueError, TypeError, AttributeError) as exc:
            # A 2xx the SDK cannot read: `json.loads` fails on a proxy's HTML page
            # (ValueError), and the call's fields are read with `.get` and parsed without
            # checks (AttributeError, TypeError on a JSON list or a number where a date goes).
            logger.warning("Twilio's answer to a call to %s was unreadable: %r", mask(to), exc)
            raise UpstreamError(NOT_A_CALL) from exc
        return placed_call(call.sid, call.status, to)


def placed_call(sid: object, status: object, to: str) -> PlacedCall:
    """The call Twilio's answer describes; `UpstreamError` when its id or status are not
    what Twilio gives (a 2xx from something else in the way)."""
    if not sid:
        raise UpstreamError("Twilio accepted the call but gave it no id.")
    if not (isinstance(sid, str) and _CALL_SID.fullmatch(sid)):
        logger.warning("Twilio's answer to a call to %s had no call id", mask(to))
        raise UpstreamError(NOT_A_CALL)
    if status is not None and not isinstance(status, str):
        logger.warning("Twilio's answer to call %s had no readable status", sid)
        raise UpstreamError(NOT_A_CALL)
    return PlacedCall(call_sid=sid, status=status or "queued", to_masked=mask(to))
