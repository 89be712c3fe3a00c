"""Silence in a live conversation: one "Are you still there?", then a polite ending."""

from __future__ import annotations

from core.phrases import Line, say
from core.realtime.idle import IdleWatch


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_silence_is_asked_about_once_then_ended() -> None:
    clock = Clock()
    watch = IdleWatch(prompt_s=10, hangup_s=20, clock=clock)
    clock.now = 9.9
    assert watch.check(busy=False) is None
    clock.now = 10.0
    assert watch.check(busy=False) is Line.STILL_THERE
    clock.now = 12.0
    assert watch.check(busy=True) is None  # the question being said
    clock.now = 31.9
    assert watch.check(busy=False) is None  # 19.9 s after the question ended
    clock.now = 32.0
    assert watch.check(busy=False) is Line.IDLE_GOODBYE
    clock.now = 100.0
    assert watch.check(busy=False) is None  # once


def test_speech_and_answers_reset_the_silence() -> None:
    clock = Clock()
    watch = IdleWatch(prompt_s=10, hangup_s=20, clock=clock)
    clock.now = 10.0
    assert watch.check(busy=False) is Line.STILL_THERE
    clock.now = 11.0
    watch.heard()  # the user answers: a new silence may be asked about again
    assert watch.check(busy=True) is None
    clock.now = 20.9
    assert watch.check(busy=False) is None
    clock.now = 21.0
    assert watch.check(busy=False) is Line.STILL_THERE


def test_zero_turns_either_off() -> None:
    clock = Clock()
    never = IdleWatch(prompt_s=0, hangup_s=0, clock=clock)
    clock.now = 1e6
    assert never.check(busy=False) is None
    clock = Clock()
    hang_only = IdleWatch(prompt_s=0, hangup_s=5, clock=clock)
    clock.now = 5.0
    assert hang_only.check(busy=False) is Line.IDLE_GOODBYE


def test_lines_are_said_in_the_users_language_or_english() -> None:
    assert say(Line.STILL_THERE, "fr") == "Vous êtes toujours là ?"
    assert say(Line.STILL_THERE, "ja") == "Are you still there?"
