"""Notice an answer that has fallen into a loop: the same words back to back, again and again.

A small model now and then repeats one sentence or phrase until the token limit (seen in
fuzzing: 19 s of one loop). A repeat penalty would change every answer; this only looks at
the text, so an answer that does not loop comes out exactly as before.
"""

from __future__ import annotations

MIN_SPAN = 12  # characters: shorter repeats ("ha ha ha", "!!!") are left alone
MAX_SPAN = 240  # about two sentences
REPEATS = 3  # back-to-back copies that make a loop


def loop_end(text: str, *, min_span: int = MIN_SPAN, max_span: int = MAX_SPAN) -> int | None:
    """Where to cut `text` if it ends in REPEATS back-to-back copies of one span of
    `min_span` to `max_span` characters: after the first copy, at its last sentence end if it
    has one (the copies may start mid-sentence). None if it does not loop."""
    length = len(text)
    for span in range(min_span, min(max_span, length // REPEATS) + 1):
        last = text[length - span :]
        if not last.strip():
            continue
        if all(
            text[length - (k + 1) * span : length - k * span] == last for k in range(1, REPEATS)
        ):
            cut = length - (REPEATS - 1) * span
            sentence_end = max(text.rfind(mark, cut - span, cut) for mark in ".!?。")
            return sentence_end + 1 if sentence_end >= 0 else cut
    return None
