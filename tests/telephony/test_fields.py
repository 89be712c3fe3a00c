"""telephony/fields.py: whole numbers read from Twilio's fields and the app's own URLs."""

from __future__ import annotations

import pytest

from telephony.fields import MAX_CALL_S, whole_number


def test_ascii_digits_up_to_the_bound_are_read() -> None:
    assert whole_number("0", maximum=2) == 0
    assert whole_number("2", maximum=2) == 2
    assert whole_number("07", maximum=99) == 7
    assert whole_number(str(MAX_CALL_S), maximum=MAX_CALL_S) == 86400


@pytest.mark.parametrize(
    "text",
    ["", "3", "²", "٣", "３", "-1", "+1", " 1", "1 ", "1_0", "1.0", "0x1", "1" * 26, "1" * 5000],
)
def test_anything_else_is_none(text: str) -> None:
    assert whole_number(text, maximum=2) is None
