"""Questions about the time, the date and the year in five languages, and only those; the
clock read in the user's time zone."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from core.facts.clock import Ask, local_now, read_clock_question

# A Wednesday evening in UTC: already Thursday in Paris.
EVENING = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "language", "ask"),
    [
        ("What time is it?", "en", Ask.TIME),
        ("Hey, can you tell me the time, please?", "en", Ask.TIME),
        ("Do you know what time it is?", "en", Ask.TIME),
        ("What's today's date?", "en", Ask.DATE),
        ("What day of the week is it?", "en", Ask.DATE),
        ("What year is it?", "en", Ask.YEAR),
        ("Wie spät ist es?", "de", Ask.TIME),
        ("Kannst du mir sagen, wie spät es ist?", "de", Ask.TIME),
        ("Wieviel Uhr haben wir?", "de", Ask.TIME),
        ("Der Wievielte ist heute?", "de", Ask.DATE),
        ("Welchen Wochentag haben wir heute?", "de", Ask.DATE),
        ("Welches Jahr haben wir?", "de", Ask.YEAR),
        ("¿Qué hora es?", "es", Ask.TIME),
        ("¿Me puedes decir la hora?", "es", Ask.TIME),
        ("¿Cuál es la fecha de hoy?", "es", Ask.DATE),
        ("¿A qué día estamos?", "es", Ask.DATE),
        ("¿En qué año estamos?", "es", Ask.YEAR),
        ("Quelle heure est-il ?", "fr", Ask.TIME),
        ("Tu peux me dire l'heure ?", "fr", Ask.TIME),
        ("Quel jour sommes-nous ?", "fr", Ask.DATE),
        ("On est le combien aujourd'hui ?", "fr", Ask.DATE),
        ("En quelle année sommes-nous ?", "fr", Ask.YEAR),
        ("Che ore sono?", "it", Ask.TIME),
        ("Mi dici l'ora?", "it", Ask.TIME),
        ("Qual è la data di oggi?", "it", Ask.DATE),
        ("Quanti ne abbiamo oggi?", "it", Ask.DATE),
        ("In che anno siamo?", "it", Ask.YEAR),
    ],
)
def test_a_question_to_the_clock_is_recognised(text: str, language: str, ask: Ask) -> None:
    assert read_clock_question(text, language) is ask


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("What time does the museum open?", "en"),
        ("What time is it in Tokyo?", "en"),  # another zone than the user's
        ("What is time?", "en"),
        ("What day is Christmas?", "en"),
        ("Wie spät ist es in New York?", "de"),
        ("Welcher Tag ist Weihnachten?", "de"),
        ("¿Qué hora es en Tokio?", "es"),
        ("Quelle heure est-il à Tokyo ?", "fr"),
        ("Che giorno è il tuo compleanno?", "it"),
        ("What time is it?", "pt"),  # no phrasings in this language
    ],
)
def test_a_question_about_something_else_is_not(text: str, language: str) -> None:
    assert read_clock_question(text, language) is None


def test_the_clock_is_read_in_the_users_time_zone() -> None:
    paris = local_now("Europe/Paris", lambda: EVENING)
    new_york = local_now("America/New_York", lambda: EVENING)

    assert (paris.day, paris.hour, paris.minute) == (3, 0, 30)
    assert (new_york.day, new_york.hour, new_york.minute) == (2, 18, 30)


def test_an_unknown_zone_reads_utc_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="core.facts.clock"):
        moment = local_now("Mars/Olympus_Mons", lambda: EVENING)

    assert (moment.hour, moment.utcoffset()) == (23, EVENING.utcoffset())
    assert "TIME_ZONE must be an IANA time zone name" in caplog.text
