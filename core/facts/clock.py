"""Recognise a question about the time, the date or the year, and read the clock in the
user's time zone to answer it.

A message is such a question only when all of it is one: a few polite words, one of the
phrasings below, and maybe "now" or "please". "What time does the museum open?" and "What
time is it in Tokyo?" are not (the first asks about a museum, the second about another zone),
and the model answers them as before.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from core.tools.clock import check_zone

logger = logging.getLogger(__name__)


class Ask(StrEnum):
    TIME = "time"
    DATE = "date"  # the date or the weekday: a date answer says both
    YEAR = "year"


# Per language: words before (greetings, "can you tell me"), the question, words after.
_LEAD = {
    "en": r"(?:hey|hi|hello|excuse me|sorry|please|ok|okay|so|and|um|well|"
    r"(?:can|could|would|will) you (?:please )?(?:tell me|say)|tell me|do you (?:happen to )?know|"
    r"i (?:would|d) like to know|i want to know|i need to know)",
    "de": r"(?:hallo|hey|entschuldigung|entschuldige|sag mal|bitte|also|und|ahm|"
    r"(?:kannst du|konnen sie|konntest du|konnten sie) mir (?:bitte )?sagen|sag mir|sagen sie mir|"
    r"weisst du|wissen sie)",
    "es": r"(?:hola|oye|perdon|disculpa|por favor|y|"
    r"(?:me )?(?:puedes|podrias|puede|podria) decir(?:me)?|dime|sabes|sabe usted|sabe)",
    "fr": r"(?:bonjour|salut|excusez moi|pardon|dis|alors|et|s il (?:te|vous) plait|"
    r"(?:pouvez vous|peux tu|pourriez vous|tu peux|vous pouvez) me dire|dis moi|dites moi|"
    r"tu sais|vous savez|sais tu|savez vous)",
    "it": r"(?:ciao|scusa|scusi|senti|allora|e|per favore|"
    r"(?:mi )?(?:puoi|potresti|puo|potrebbe|sai|sa) dir(?:mi|e)|dimmi|mi dici|sai|sa)",
}
_TAIL = {
    "en": r"(?:now|right now|currently|at the moment|today|exactly|please|then|again)",
    "de": r"(?:jetzt|gerade|bitte|heute|denn|eigentlich|genau|im moment|gerade eben|nochmal)",
    "es": r"(?:ahora|ahora mismo|hoy|por favor|exactamente|entonces)",
    "fr": r"(?:maintenant|en ce moment|aujourd hui|s il (?:te|vous) plait|exactement|alors)",
    "it": r"(?:adesso|ora|in questo momento|oggi|per favore|esattamente|allora)",
}
_QUESTIONS: dict[str, dict[Ask, str]] = {
    "en": {
        Ask.TIME: r"what time is it|what time it is|what s the (?:current |exact )?time|"
        r"what is the (?:current |exact )?time|the (?:current |exact )?time|"
        r"(?:do you )?have the time",
        Ask.DATE: r"what (?:is|s) (?:the date|today s date|the date today|today)|"
        r"what date is (?:it|today)|what day (?:of the week )?is (?:it|today)|"
        r"which day (?:of the week )?is (?:it|today)|the date|today s date|what the date is",
        Ask.YEAR: r"what year is it|which year is it|what year (?:are we in|it is)",
    },
    "de": {
        Ask.TIME: r"wie spat ist es|wie spat es ist|wie ?viel uhr (?:ist es|haben wir)|"
        r"wie ?viel uhr es ist|welche uhrzeit (?:ist es|haben wir)|"
        r"was ist die (?:aktuelle )?uhrzeit|die (?:aktuelle )?uhrzeit",
        Ask.DATE: r"welches datum (?:ist|haben wir)(?: heute)?|welches datum heute ist|"
        r"was ist (?:das heutige datum|heute fur ein (?:datum|tag)|das datum)|"
        r"der wievielte ist (?:heute|es)|den wievielten haben wir|"
        r"welche[nr]? (?:wochen)?tag (?:ist (?:heute|es)|haben wir)|welcher tag heute ist|"
        r"was fur ein (?:wochen)?tag ist (?:heute|es)|das (?:heutige )?datum",
        Ask.YEAR: r"welches jahr (?:haben wir|ist es|ist)|in welchem jahr sind wir",
    },
    "es": {
        Ask.TIME: r"que hora es|que hora tienes|que hora tiene|la hora|que hora es ahora",
        Ask.DATE: r"(?:que|cual es la) fecha (?:es|es hoy|tenemos|de hoy)|cual es la fecha|"
        r"a que (?:fecha|dia) estamos|que dia (?:de la semana )?(?:es|es hoy)|"
        r"en que dia estamos|la fecha(?: de hoy)?|que fecha es",
        Ask.YEAR: r"en que ano estamos|que ano es",
    },
    "fr": {
        Ask.TIME: r"quelle heure est il|quelle heure il est|il est quelle heure|l heure|"
        r"quelle heure",
        Ask.DATE: r"quelle est la date(?: d aujourd hui| du jour)?|"
        r"quel jour (?:de la semaine )?(?:sommes nous|est on|on est|nous sommes|est ce|"
        r"est il|c est)|(?:on|nous) (?:est|sommes) quel jour|c est quel jour|"
        r"(?:on|nous) (?:est|sommes) le combien|quelle date (?:sommes nous|on est|est on|est ce)|"
        r"la date(?: d aujourd hui| du jour)?",
        Ask.YEAR: r"en quelle annee (?:sommes nous|on est|est on)|on est en quelle annee|"
        r"quelle annee (?:sommes nous|on est|est on)",
    },
    "it": {
        Ask.TIME: r"che ore? sono|che ora e|l ora|che ore sono adesso",
        Ask.DATE: r"che giorno (?:della settimana )?e|che data e|qual e la data(?: di oggi)?|"
        r"quanti ne abbiamo|oggi che giorno e|in che giorno siamo|la data(?: di oggi)?",
        Ask.YEAR: r"in che anno siamo|che anno e",
    },
}
_PATTERNS = {
    language: {
        ask: re.compile(rf"(?:{_LEAD[language]} )*(?:{question})(?: {_TAIL[language]})*")
        for ask, question in questions.items()
    }
    for language, questions in _QUESTIONS.items()
}


@functools.lru_cache(maxsize=64)  # a message is read in each language in turn
def _plain(text: str) -> str:
    """Lower case, no accents, apostrophes and hyphens as spaces, no punctuation."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"['’`\-]", " ", text)
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def read_clock_question(text: str, language: str) -> Ask | None:
    """What `text`, in `language`, asks of the clock, or None when it is not only that."""
    patterns = _PATTERNS.get(language)
    if patterns is None:
        return None
    plain = _plain(text)
    for ask, pattern in patterns.items():
        if pattern.fullmatch(plain):
            return ask
    return None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def local_now(time_zone: str, now: Callable[[], datetime] | None = None) -> datetime:
    """The time in `time_zone` (UTC when it is not a zone zoneinfo knows: settings check
    TIME_ZONE, a bad one here must not cost the user the answer). `now` returns an aware
    datetime, the real clock by default."""
    try:
        zone = ZoneInfo(check_zone(time_zone))
    except ValueError as exc:
        logger.warning("Facts read the clock in UTC: %s", exc)
        zone = ZoneInfo("UTC")
    return (now or _utc_now)().astimezone(zone)
