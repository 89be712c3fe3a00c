"""TwiML documents, built with the twilio SDK's `VoiceResponse` (which escapes all text)."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.twiml.voice_response import VoiceResponse

FALLBACK_APOLOGY = "Sorry, the assistant cannot take your call right now. Please try again later."
GOODBYE = "I did not hear anything. Goodbye!"
BUSY = "Sorry, all my lines are busy right now. Please call again in a minute. Goodbye!"

# Language codes of <Say> and of <Gather>'s speech recognition, by the agent's language code.
_LOCALES: dict[str, str] = {
    "en": "en-US",
    "fr": "fr-FR",
    "es": "es-ES",
    "de": "de-DE",
    "it": "it-IT",
    "pt": "pt-BR",
    "nl": "nl-NL",
    "pl": "pl-PL",
    "ru": "ru-RU",
    "tr": "tr-TR",
    "sv": "sv-SE",
    "da": "da-DK",
    "no": "nb-NO",
    "fi": "fi-FI",
    "ja": "ja-JP",
    "ko": "ko-KR",
    "zh": "zh-CN",
}


def locale(language: str) -> str | None:
    """Twilio's locale for one of the agent's language codes (None: Twilio's default)."""
    return _LOCALES.get(language)


def stream_call(
    greeting: str, url: str, parameters: Mapping[str, str], *, action: str | None = None
) -> str:
    """Greet the caller, then connect the call to the bidirectional Media Stream at `url`.
    When the stream ends, Twilio asks `action` what comes next (a transfer, a hang-up)."""
    response = VoiceResponse()
    if greeting.strip():
        response.say(greeting)
    connect = response.connect(action=action) if action else response.connect()
    stream = connect.stream(url=url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    return str(response)


def gather_turn(text: str, action: str, language: str) -> str:
    """Say `text` (interruptible) and listen for the caller's answer, posted to `action`.

    `actionOnEmptyResult` makes Twilio post even when the caller said nothing, so the app
    decides whether to ask again or hang up.
    """
    response = VoiceResponse()
    code = locale(language)
    gather = response.gather(
        input="speech",
        action=action,
        method="POST",
        speech_timeout="auto",
        action_on_empty_result=True,
        language=code,
    )
    if text.strip():
        gather.say(text, language=code)
    return str(response)


def goodbye(text: str = GOODBYE, language: str = "en") -> str:
    """Say `text` and hang up."""
    response = VoiceResponse()
    response.say(text, language=locale(language))
    response.hangup()
    return str(response)


def transfer(number: str, text: str = "", language: str = "en") -> str:
    """Say `text` (if any), then put the caller through to `number`."""
    response = VoiceResponse()
    if text.strip():
        response.say(text, language=locale(language))
    response.dial(number)
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def fallback() -> str:
    """The static answer for Twilio's Fallback URL: an apology and a hang-up."""
    return goodbye(FALLBACK_APOLOGY)
