"""What bench/quality judges answers by when the right words are only known at run time (the
time, the date, the year, read from this machine's clock in the server's time zone), and
which answers hedge.

The names of days and months are written here again, not imported from core/facts: a
mistake in the product's tables must not cancel itself out in the judging.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = {
    "en": "monday tuesday wednesday thursday friday saturday sunday",
    "de": "montag dienstag mittwoch donnerstag freitag samstag sonntag",
    "es": "lunes martes miercoles jueves viernes sabado domingo",
    "fr": "lundi mardi mercredi jeudi vendredi samedi dimanche",
    "it": "lunedi martedi mercoledi giovedi venerdi sabato domenica",
}
MONTHS = {
    "en": "january february march april may june july august september october november december",
    "de": "januar februar marz april mai juni juli august september oktober november dezember",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
    "diciembre",
    "fr": "janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre "
    "dicembre",
}

# Said when unsure ("I'm not sure, but I think ..."), per language, accents left out.
HEDGES = {
    "en": ("i'm not sure", "i am not sure", "i don't know", "i do not know", "not certain",
           "i think", "i believe", "probably", "might be"),
    "de": ("ich bin mir nicht sicher", "ich bin nicht sicher", "ich weiss nicht",
           "ich glaube", "vermutlich", "wahrscheinlich", "vielleicht"),
    "es": ("no estoy seguro", "no estoy segura", "no lo se", "creo que",
           "probablemente", "quizas", "tal vez"),
    "fr": ("je ne suis pas sur", "je ne suis pas sure", "je ne sais pas", "je crois",
           "je pense", "probablement", "peut-etre"),
    "it": ("non sono sicuro", "non sono sicura", "non lo so", "credo", "penso",
           "probabilmente", "forse"),
}  # fmt: skip


def _minutes(start: datetime, end: datetime) -> list[datetime]:
    """Every minute from a minute before `start` to a minute after `end`: the clock may turn
    while the model writes, and the server read it before the answer began."""
    moment = start.replace(second=0, microsecond=0) - timedelta(minutes=1)
    moments = []
    while moment <= end + timedelta(minutes=1):
        moments.append(moment)
        moment += timedelta(minutes=1)
    return moments


def _time_words(moment: datetime) -> list[str]:
    hour, minute = moment.hour, moment.minute
    words = []
    for h in {hour, hour % 12 or 12}:
        words += [f"{h}:{minute:02d}", f"{h}.{minute:02d}", f"{h} h {minute:02d}"]
        words += [f"{h}h{minute:02d}", f"{h} uhr {minute}", f"{h} uhr {minute:02d}"]
        for hours in ("heures", "heure", "e", "y"):  # "10 heures 53", "le 2 e 5", "las 2 y 5"
            words += [f"{h} {hours} {minute}", f"{h} {hours} {minute:02d}"]
        if minute == 0:
            words += [f"{h} uhr", f"{h} o'clock", f"{h} h", f"{h} heures", f"{h} heure"]
    return words


def _date_words(moment: datetime, language: str) -> list[str]:
    day, number = moment.day, moment.month
    words = [WEEKDAYS[code].split()[moment.weekday()] for code in {language, "en"}]
    for code in {language, "en"}:
        month = MONTHS[code].split()[number - 1]
        words += [f"{day} {month}", f"{day}. {month}", f"{day} de {month}", f"{month} {day}"]
        words += [f"{day}er {month}", f"{day}{_suffix(day)} of {month}"]
        words += [f"{month} {day}{_suffix(day)}"]
    words += [f"{day}/{number}", f"{day:02d}/{number:02d}", f"{day}.{number}."]
    words += [f"{day:02d}.{number:02d}.", moment.date().isoformat()]
    return words


def _suffix(day: int) -> str:
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def clock_words(expect: str, language: str, asked: float, done: float, zone: str) -> list[str]:
    """The words a right answer to a question about the time ("time"), the date or the
    weekday ("date") or the year ("year") may hold, asked at `asked` and answered by `done`
    (Unix seconds), in the time zone `zone`."""
    tz = ZoneInfo(zone)
    start, end = datetime.fromtimestamp(asked, tz), datetime.fromtimestamp(done, tz)
    words: list[str] = []
    for moment in _minutes(start, end):
        if expect == "time":
            found = _time_words(moment)
        elif expect == "date":
            found = _date_words(moment, language)
        elif expect == "year":
            found = [str(moment.year)]
        else:
            raise ValueError(f"unknown expectation {expect!r}: time, date or year")
        words += [word for word in found if word not in words]
    return words


def hedged(answer_plain: str, language: str) -> bool:
    """Whether an answer (lower case, accents removed) says it is unsure."""
    phrases = HEDGES.get(language, HEDGES["en"])
    return any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", answer_plain) for p in phrases)
