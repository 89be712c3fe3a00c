"""Numbers in Twilio's webhook fields and in the app's own action URLs, read strictly."""

from __future__ import annotations

# Twilio ends every call after 24 hours at the latest, so no call lasts longer; the bound
# also keeps a forged or garbled value from overflowing the column it goes to.
MAX_CALL_S = 24 * 3600


def whole_number(text: str, *, maximum: int) -> int | None:
    """`text` as a whole number from 0 to `maximum`, or None when it is anything else.

    ASCII digits only: `str.isdigit` also takes '²' (which `int` then refuses, a 500) and
    other scripts' digits such as '٣' (which `int` reads as 3); `int` alone takes signs,
    spaces and underscores. The length is checked before `int`, so a long value costs
    nothing to refuse.
    """
    if not text or len(text) > len(str(maximum)) or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= maximum else None
