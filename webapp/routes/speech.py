"""Speech out: any text spoken as WAV, and the spoken answer of a stored turn."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from core import language
from core.concurrency import run_blocking
from core.errors import InvalidInputError, ProviderError
from core.tts.router import Speech, SpeechSynthesizer
from core.tts.speaking import chosen_voice
from core.tts.turns import turn_speech
from webapp.deps import AppState, CurrentUser, StateDep
from webapp.errors import documented
from webapp.schemas import SpeakRequest

router = APIRouter(tags=["speech"])

_WAV_DOC = {
    200: {
        "description": "The speech as a 16-bit mono WAV file. `X-TTS-Provider` names the voice, "
        "`X-TTS-Fallback` says why it is not the one asked for (when it is not), "
        "`X-TTS-Language` is the language spoken (on /speak).",
        "content": {"audio/wav": {}},
    }
}


def synthesizer(state: AppState) -> SpeechSynthesizer:
    tts = state.agent.providers.tts
    if tts is None:
        raise ProviderError("Text-to-speech is not available on this server.")
    return tts


def _header(value: str) -> str:
    # HTTP headers are Latin-1, one line; a reason may quote an error message.
    return " ".join(value.encode("ascii", "replace").decode().split())


def wav_response(speech: Speech, language: str | None = None) -> Response:
    headers = {"X-TTS-Provider": _header(speech.provider)}
    if language:
        headers["X-TTS-Language"] = language
    if speech.fallback:
        headers["X-TTS-Fallback"] = _header(speech.fallback)
    return Response(speech.wav, media_type="audio/wav", headers=headers)


@router.post(
    "/speak",
    response_class=Response,
    responses={**_WAV_DOC, **documented(400, 401, 413, 422, 503)},
)
async def speak(body: SpeakRequest, user: CurrentUser, state: StateDep) -> Response:
    """Speak `text` in `language` (detected when left out) with my chosen voice."""
    text = body.text.strip()
    if not text:
        raise InvalidInputError("There is no text to speak.")
    pinned = language.validate(body.language)
    tts = synthesizer(state)
    provider = chosen_voice(user.tts_provider, state.settings)

    def work() -> tuple[Speech, str]:
        lang = pinned
        if lang is None or lang == language.AUTO:
            lang = language.detect(text, fallback=state.settings.default_language)
        return tts.speak_to_wav(text, lang, provider), lang

    speech, lang = await run_blocking(work)
    return wav_response(speech, lang)


@router.get(
    "/turns/{turn_id}/audio",
    response_class=Response,
    responses={**_WAV_DOC, **documented(401, 404, 422, 503)},
)
async def turn_audio(
    turn_id: Annotated[int, Path(ge=1, le=2**63 - 1)],  # SQLite's INTEGER; larger ones: 422
    user: CurrentUser,
    state: StateDep,
) -> Response:
    """The answer of one of my turns, spoken in its language (404 for anyone else's turn)."""
    tts = state.agent.providers.tts
    speech = await turn_speech(
        store=state.store, tts=tts, settings=state.settings, user=user, turn_id=turn_id
    )
    return wav_response(speech)
