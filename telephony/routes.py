"""Twilio's webhooks and the Media Streams socket: `/twilio/voice`, `/media`, `/gather`,
`/status` and `/fallback` (set up in docs/telephony.md)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import Response
from starlette.datastructures import ImmutableMultiDict

from core.callers import ANONYMOUS, CHANNEL, Caller
from core.concurrency import run_blocking
from core.config import TelephonyMode
from core.errors import AgentError
from core.service import Service
from core.tools import TransferCall
from core.turns.context import TurnContext
from telephony import media, twiml
from telephony.fields import MAX_CALL_S, whole_number
from telephony.signature import SETTINGS_HEADER, SIGNATURE_HEADER, NotConfigured
from telephony.state import FINAL_STATUSES, Phone, make_phone, phone_of

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/twilio", tags=["phone"])

MAX_FORM_BYTES = 64 * 1024  # Twilio's webhook forms are ~1-2 KB
MAX_FORM_FIELDS = 200
MAX_SPEECH_CHARS = 2000
# Twilio waits 15 s for a webhook's answer; past this the caller hears an apology instead.
GATHER_ANSWER_TIMEOUT_S = 12.0
MAX_SILENT_PROMPTS = 2  # empty <Gather>s in a row before the agent says goodbye
TOO_SLOW = "Sorry, I am taking too long to think about that. Could you ask me again?"
FAILED = "Sorry, something went wrong on my side. Could you say that again?"
STILL_THERE = "Are you still there?"

XML = "application/xml"
_TWIML_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {XML: {}}, "description": "TwiML"},
    403: {"description": "Missing or invalid X-Twilio-Signature, or the phone is not set up"},
}


def install(app: FastAPI, service: Service) -> None:
    """Add the phone channel to `app`: its state, made from `service`, and its routes."""
    app.state.phone = make_phone(service)
    app.include_router(router)


def get_phone(request: Request) -> Phone:
    return phone_of(request.app)


PhoneDep = Annotated[Phone, Depends(get_phone)]
Form = ImmutableMultiDict[str, str]


def _twiml(document: str) -> Response:
    return Response(document, media_type=XML)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    # Only a length that reads as one counts here (ASCII digits: `isdigit` takes '²'); the
    # body is counted as it streams in anyway.
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise HTTPException(413, "The webhook's form is too large.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "The webhook's form is too large.")
    return bytes(body)


async def signed_form(request: Request, phone: Phone) -> Form:
    """The webhook's POST fields once its `X-Twilio-Signature` checks out; 403 otherwise."""
    try:
        signatures = phone.signatures()
    except NotConfigured as exc:
        logger.error("Refused a Twilio webhook on %s: %s", request.url.path, exc)
        raise HTTPException(403, "The phone channel is not set up on this server.") from exc
    body = await _read_body(request)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, "The webhook's body is not a URL-encoded form.") from exc
    form: Form = ImmutableMultiDict(pairs)
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signatures.webhook_valid(
        request.url.path, request.url.query, form, signature, request.headers.get(SETTINGS_HEADER)
    ):
        logger.warning(
            "Refused a Twilio webhook on %s: %s X-Twilio-Signature",
            request.url.path,
            "invalid" if signature else "no",
        )
        raise HTTPException(403, "Invalid or missing X-Twilio-Signature.")
    return form


async def _caller(phone: Phone, form: Form) -> Caller:
    """Who the agent talks to: the caller of an incoming call (`From`), or the person an
    outbound call (`Direction` outbound-api) reached (`To`; `From` is then the agent's own
    number, the same on every such call). An outbound call placed with `POST /calls` talks in
    the session recorded for it; one this server has no record of is its callee's own."""
    call_sid = form.get("CallSid", "")
    outbound = form.get("Direction", "").startswith("outbound")
    number = form.get("To" if outbound else "From", "")
    caller = None
    if outbound and call_sid:
        caller = await run_blocking(lambda: phone.callers.answered(call_sid, number))
    if caller is None:
        caller = await run_blocking(lambda: phone.callers.connect(number))
    if call_sid:
        await phone.calls.aio.begin_call(
            call_sid=call_sid,
            caller_id=caller.caller_id or ANONYMOUS,
            user_id=caller.user.id,
            session_id=caller.session.id,
        )
    return caller


@router.post("/voice", response_class=Response, responses=_TWIML_RESPONSES)
async def voice(request: Request, phone: PhoneDep) -> Response:
    """The incoming-call webhook: greet the caller, then stream the call to `/twilio/media`
    (or, with `TELEPHONY_MODE=gather`, listen turn by turn with `<Gather>`). When the server
    already holds MAX_CONVERSATIONS live conversations, the caller hears so and is let go."""
    form = await signed_form(request, phone)
    settings = phone.settings
    if settings.telephony_mode is TelephonyMode.STREAM and phone.agent.conversations.full:
        logger.warning(
            "Turned a call away: all %s conversations in use", settings.max_conversations
        )
        return _twiml(twiml.goodbye(twiml.BUSY))
    caller = await _caller(phone, form)
    signatures = phone.signatures()
    if settings.telephony_mode is TelephonyMode.GATHER:
        action = signatures.url("/twilio/gather")
        return _twiml(twiml.gather_turn(settings.phone_greeting, action, _language(phone, caller)))
    parameters = phone.tickets.issue(
        call_sid=form.get("CallSid", ""),
        caller_id=caller.caller_id or ANONYMOUS,
        user_id=caller.user.id,
        session_id=caller.session.id,
    )
    return _twiml(
        twiml.stream_call(
            settings.phone_greeting,
            signatures.stream_url,
            parameters,
            action=signatures.url("/twilio/after-stream"),
        )
    )


@router.post("/after-stream", response_class=Response, responses=_TWIML_RESPONSES)
async def after_stream(request: Request, phone: PhoneDep) -> Response:
    """`<Connect>`'s action: the call's stream has ended. When the agent ended it to hand the
    caller to a person, the call goes on to `<Dial>` TRANSFER_NUMBER; otherwise it hangs up
    (the agent has said goodbye, or the stream broke: nothing more can be said)."""
    form = await signed_form(request, phone)
    call_sid = form.get("CallSid", "")
    record = await phone.calls.aio.find_call(call_sid=call_sid)
    number = phone.settings.transfer_number
    if record is not None and record.ending == "transfer" and number:
        logger.info("Call %s: transferred to a person", call_sid)
        return _twiml(twiml.transfer(number))
    logger.info("Call %s: hung up after the stream (%s)", call_sid, record and record.ending)
    return _twiml(twiml.hang_up())


def _language(phone: Phone, caller: Caller) -> str:
    """The language to listen for: the caller's pinned one, else the server's default."""
    return TurnContext(caller.user, caller.session, phone.settings).language()


@router.post("/gather", response_class=Response, responses=_TWIML_RESPONSES)
async def gather(request: Request, phone: PhoneDep) -> Response:
    """One turn of a `<Gather>` call: answer what the caller said, then listen again."""
    form = await signed_form(request, phone)
    caller = await _caller(phone, form)
    signatures = phone.signatures()
    speech = form.get("SpeechResult", "").strip()[:MAX_SPEECH_CHARS]
    language = _language(phone, caller)
    if not speech:
        # The count the app put in the action's URL; anything else counts as none.
        silent = whole_number(request.query_params.get("silent", ""), maximum=MAX_SILENT_PROMPTS)
        count = (silent or 0) + 1
        if count > MAX_SILENT_PROMPTS:
            return _twiml(twiml.goodbye(language=language))
        action = signatures.url("/twilio/gather", f"silent={count}")
        return _twiml(twiml.gather_turn(STILL_THERE, action, language))
    try:
        result = await asyncio.wait_for(
            phone.agent.answer(
                user=caller.user, text=speech, session_id=caller.session.id, channel=CHANNEL
            ),
            timeout=GATHER_ANSWER_TIMEOUT_S,
        )
        text, language = result.answer or FAILED, result.language
        number = phone.settings.transfer_number
        if isinstance(result.action, TransferCall) and number:
            return _twiml(twiml.transfer(number, text, language))
        if result.action is not None:
            return _twiml(twiml.goodbye(text, language))
    except TimeoutError:
        logger.warning("Gather turn of session %s took too long; apologising", caller.session.id)
        text = TOO_SLOW
    except AgentError as exc:
        logger.warning("Gather turn of session %s failed: %s", caller.session.id, exc)
        text = FAILED
    return _twiml(twiml.gather_turn(text, signatures.url("/twilio/gather"), language))


@router.post("/status", status_code=204, responses={403: _TWIML_RESPONSES[403]})
async def call_status(request: Request, phone: PhoneDep) -> Response:
    """Twilio's status callback: the call's record gets its new status and duration. A
    duration that is not whole seconds of a possible call is left out and the answer is still
    204, as for any other odd field: an error would tell Twilio nothing it could mend, and
    where retries are set up it would only post the same form again."""
    form = await signed_form(request, phone)
    call_sid, call_status = form.get("CallSid", ""), form.get("CallStatus", "")
    duration = whole_number(form.get("CallDuration", ""), maximum=MAX_CALL_S)
    record = await phone.calls.aio.update_call(
        call_sid=call_sid, status=call_status[:16] or None, duration_s=duration
    )
    if record is not None and call_status in FINAL_STATUSES:
        logger.info("Call %s %s after %s s", call_sid, call_status, record.duration_s)
    return Response(status_code=204)


@router.post("/fallback", response_class=Response, responses={200: _TWIML_RESPONSES[200]})
async def fallback() -> Response:
    """Twilio's Fallback URL, called when the voice webhook fails: an apology and a hang-up.
    Static and unsigned on purpose: it must work even when the app's setup is broken."""
    return _twiml(twiml.fallback())


@router.websocket("/media")
async def media_stream(websocket: WebSocket) -> None:
    """Twilio Media Streams (bidirectional), for the `<Connect><Stream>` of `/twilio/voice`."""
    await media.serve(websocket, phone_of(websocket.app))
