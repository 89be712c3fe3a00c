"""How much of a spoken answer the listener heard, from how long its audio played."""

from __future__ import annotations


def heard_text(pieces: list[tuple[str, float]], seconds: float) -> str:
    """The text of the pieces (text, duration) played in `seconds`: whole pieces, then the
    words of the piece in progress in proportion to its time played."""
    heard: list[str] = []
    remaining = seconds
    for text, duration in pieces:
        if remaining <= 0:
            break
        if remaining >= duration:
            heard.append(text.strip())
            remaining -= duration
            continue
        words = text.split()
        count = int(len(words) * remaining / duration) if duration > 0 else 0
        if count:
            heard.append(" ".join(words[:count]))
        break
    return " ".join(part for part in heard if part)
