"""When an answer's voice starts, and how its pieces are cut by the audio ahead (`AnswerPieces`)."""

from __future__ import annotations

import asyncio

from core.tts.pieces import AnswerPieces


def test_the_first_piece_is_the_first_natural_phrase_not_the_first_sentence() -> None:
    pieces = AnswerPieces(first_min_words=3)
    pieces.feed("This quote from President Lincoln ")
    assert pieces.take(0.0) == (False, None)  # no boundary seen yet
    pieces.feed("is a powerful statement")
    assert pieces.take(0.0) == (True, "This quote from President Lincoln")


def test_the_first_piece_waits_for_a_phrase_only_so_long() -> None:
    now = [0.0]
    pieces = AnswerPieces(first_min_words=2, first_wait_s=0.45, clock=lambda: now[0])
    pieces.feed("According to the latest ")
    now[0] = 0.3
    assert pieces.take(0.0) == (False, None)  # no phrase yet, and not waited long
    now[0] = 0.5
    assert pieces.take(0.0) == (True, "According to the latest")
    pieces.feed("census, Paris has ")
    now[0] = 5.0
    assert pieces.take(3.0) == (False, None)  # later pieces follow the lead, not the clock


def test_with_audio_ahead_a_piece_is_a_whole_sentence() -> None:
    pieces = AnswerPieces(first_min_words=3, urgent_lead_s=1.5)
    pieces.feed("The capital of France is ")
    assert pieces.take(0.0) == (True, "The capital of France")
    pieces.feed("Paris, and it lies on the river ")
    assert pieces.take(3.0) == (False, None)  # plenty to hear: wait for the sentence's end
    found, piece = pieces.take(1.0)  # running out: the longest phrase written so far
    assert found and piece == "is Paris, and it lies"
    pieces.feed("Seine. It is big.")
    assert pieces.take(3.0) == (True, "on the river Seine.")
    pieces.finish()
    assert pieces.take(3.0) == (True, "It is big.")
    assert pieces.take(3.0) == (True, None)


def test_a_restart_forgets_what_was_not_spoken() -> None:
    pieces = AnswerPieces()
    pieces.feed("One. Two. Three")
    pieces.restart()
    pieces.feed("Again.")
    pieces.finish()
    assert pieces.take(5.0) == (True, "Again.")
    assert pieces.take(5.0) == (True, None)


def test_next_waits_for_text_and_for_the_lead_to_run_down() -> None:
    async def scenario() -> list[str | None]:
        pieces = AnswerPieces(first_min_words=3, urgent_lead_s=1.0)
        lead = [5.0]
        got: list[str | None] = []

        async def speaker() -> None:
            while (piece := await pieces.next(lambda: lead[0])) is not None:
                got.append(piece)
            got.append(None)

        task = asyncio.create_task(speaker())
        pieces.feed("It was a cold day that ")
        await asyncio.sleep(0.15)
        assert got == []  # five seconds ahead: no hurry
        lead[0] = 0.5
        await asyncio.sleep(0.15)
        assert got == ["It was a cold day"]
        pieces.finish()
        await asyncio.wait_for(task, 1)
        return got

    assert asyncio.run(scenario()) == ["It was a cold day", "that", None]
