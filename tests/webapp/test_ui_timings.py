"""The page's timings line and chart, its chat of stored turns, and what the browser sends."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from core.history import TurnRecord
from webapp.ui.handsfree import StoredTurn
from webapp.ui.timings import (
    STAGES,
    HeardReport,
    StopClock,
    milestones,
    timings_frame,
    timings_line,
)
from webapp.ui.view import chat_messages

NOW = datetime(2025, 1, 1, tzinfo=UTC)
SPOKEN = TurnRecord(
    id=7,
    session_id="a" * 32,
    source="audio",
    user_text="What is the capital of France?",
    language="en",
    personality="casual",
    answer="The capital of France is Paris.",
    status="answered",
    stt_provider="local:whisper-base",
    llm_provider="local:qwen",
    fallback=None,
    audio_seconds=2.0,
    stt_ms=350.0,
    llm_first_token_ms=400.0,  # from the start of the agent's answer...
    total_ms=3000.0,
    interrupted=False,
    created_at=NOW,
    answered_at=NOW,
    transcript_ms=600.0,
    first_token_ms=1500.0,  # ...which began 1100 ms after the end of speech
    first_audio_ms=2100.0,
)


def test_a_turn_is_timed_from_the_end_of_speech() -> None:
    at = milestones(SPOKEN)
    assert (at.transcript, at.first_token, at.first_audio, at.written) == (
        600.0,
        1500.0,
        2100.0,
        4100.0,
    )
    assert at.stages() == (600.0, 900.0, 600.0, 2000.0)
    assert timings_line(SPOKEN) == (
        "**Last turn**, from when you stopped speaking: transcript 0.60 s (speech-to-text "
        "0.35 s) · first token 1.50 s · first audio 2.10 s (0.60 s after the first token) · "
        "local:qwen"
    )


def test_a_typed_turn_is_timed_from_when_it_was_sent() -> None:
    typed = dataclasses.replace(
        SPOKEN, source="text", stt_ms=None, transcript_ms=None, fallback="groq: 429"
    )
    assert timings_line(typed) == (
        "**Last turn**, from when you sent it: first token 1.50 s · first audio 2.10 s "
        "(0.60 s after the first token) · local:qwen (fallback: groq: 429)"
    )
    assert milestones(typed).stages() == (0.0, 1500.0, 600.0, 2000.0)


def test_a_turn_without_figures_from_the_end_of_speech_says_where_it_counts_from() -> None:
    """A REST turn, or a live one cut short before its timings were stored: the agent's own
    figures, from the start of the transcription."""
    rest = dataclasses.replace(SPOKEN, transcript_ms=None, first_token_ms=None, first_audio_ms=None)
    at = milestones(rest)
    assert (at.transcript, at.first_token, at.first_audio, at.written) == (
        350.0,
        750.0,
        None,
        3350.0,
    )
    assert timings_line(dataclasses.replace(rest, interrupted=True)) == (
        "**Last turn**, from the start of the transcription: speech-to-text 0.35 s · "
        "first token 0.75 s · first audio - · local:qwen · interrupted"
    )


def test_the_chart_has_every_stage_of_every_turn_stacked_from_the_bottom_up() -> None:
    quick = dataclasses.replace(SPOKEN, id=8, first_audio_ms=5000.0)  # after the text
    frame = timings_frame([SPOKEN, quick])
    rows = list(frame.itertuples(index=False, name=None))
    # Listed last stage first: the chart stacks the first listed on top.
    assert rows == [
        ("1", STAGES[3], 2000.0),
        ("1", STAGES[2], 600.0),
        ("1", STAGES[1], 900.0),
        ("1", STAGES[0], 600.0),
        ("2", STAGES[3], 0.0),
        ("2", STAGES[2], 3500.0),
        ("2", STAGES[1], 900.0),
        ("2", STAGES[0], 600.0),
    ]
    assert str(timings_frame([]).dtypes["ms"]) == "float64"


def test_the_chat_marks_an_interrupted_answer_and_plays_this_page_s_recordings() -> None:
    heard = dataclasses.replace(SPOKEN, id=8, answer="The capital", interrupted=True)
    unheard = dataclasses.replace(SPOKEN, id=9, answer="", interrupted=True)
    cut = dataclasses.replace(SPOKEN, id=10, status="interrupted")  # the server stopped
    pending = dataclasses.replace(SPOKEN, id=11, answer=None, status="pending")
    chat = chat_messages([SPOKEN, heard, unheard, cut, pending], {7: "/tmp/rec.wav"})
    assert chat == [
        {"role": "user", "content": {"path": "/tmp/rec.wav"}},
        {"role": "user", "content": SPOKEN.user_text},
        {"role": "assistant", "content": SPOKEN.answer},
        {"role": "user", "content": SPOKEN.user_text},
        {"role": "assistant", "content": "The capital — *(interrupted)*"},
        {"role": "user", "content": SPOKEN.user_text},
        {"role": "assistant", "content": "*(interrupted)*"},
        {"role": "user", "content": SPOKEN.user_text},
        {"role": "assistant", "content": f"{SPOKEN.answer} — *(interrupted)*"},
        {"role": "user", "content": SPOKEN.user_text},
    ]


def test_the_page_s_clock_is_believed_only_when_it_makes_sense() -> None:
    clock = StopClock.parse(json.dumps({"stopped_at": 81234.5, "waited_ms": 412.25}))
    assert clock == StopClock(stopped_at=81234.5, waited_ms=412.25)
    for sent in (
        "",
        "not json",
        "[1, 2]",
        '{"stopped_at": 1.0}',
        '{"stopped_at": 1.0, "waited_ms": -5}',
        '{"stopped_at": 1.0, "waited_ms": 900000}',  # 15 minutes: a stale mark
        '{"stopped_at": 1.0, "waited_ms": true}',
        '{"stopped_at": "1", "waited_ms": 10}',
        '{"stopped_at": NaN, "waited_ms": 10}',
    ):
        assert StopClock.parse(sent) is None, sent


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"turn_id": 7, "heard_ms": 1834.6}, HeardReport(7, 1834.6)),
        ({"turn_id": 7, "heard_ms": 0}, HeardReport(7, 0.0)),
        ({"turn_id": "7", "heard_ms": 10}, None),
        ({"turn_id": True, "heard_ms": 10}, None),
        ({"turn_id": 0, "heard_ms": 10}, None),
        ({"turn_id": 7, "heard_ms": -1}, None),
        ({"turn_id": 7}, None),
        (None, None),
    ],
)
def test_the_player_s_report_of_a_first_audio(data: object, expected: object) -> None:
    assert HeardReport.parse(data) == expected


def test_the_hands_free_section_s_word_of_a_stored_turn() -> None:
    session = "b" * 32
    assert StoredTurn.parse({"session_id": session, "turn_id": 3, "interrupted": True}) == (
        StoredTurn(session, 3, True)
    )
    assert StoredTurn.parse({"session_id": session, "turn_id": None}) == (
        StoredTurn(session, None, False)
    )
    assert StoredTurn.parse({"session_id": session, "interrupted": "yes"}) == (
        StoredTurn(session, None, False)
    )
    for data in ({"turn_id": 3}, {"session_id": "", "turn_id": 3}, {"session_id": 5}, []):
        assert StoredTurn.parse(data) is None, data
    assert StoredTurn.parse({"session_id": session, "turn_id": "3"}) is None
