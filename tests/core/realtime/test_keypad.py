"""The phone's keypad: digits reach a tool that reads them; otherwise a key is no input."""

from __future__ import annotations

import asyncio

from core.realtime.keypad import KeypadDigits


def test_digits_are_read_until_the_pound_key() -> None:
    async def scenario() -> tuple[str, bool, bool]:
        keypad = KeypadDigits()
        before = keypad.press("4")  # nobody reads yet: not taken
        reading = asyncio.create_task(keypad.read_digits(max_digits=10, timeout_s=5))
        await asyncio.sleep(0)
        for key in "48213#9":
            keypad.press(key)
        digits = await reading
        return digits, before, keypad.reading

    assert asyncio.run(scenario()) == ("48213", False, False)


def test_a_read_stops_at_its_length_or_after_a_quiet_while() -> None:
    async def scenario() -> tuple[str, str]:
        keypad = KeypadDigits()
        reading = asyncio.create_task(keypad.read_digits(max_digits=2, timeout_s=5))
        await asyncio.sleep(0)
        for key in "123":
            keypad.press(key)
        first = await reading
        reading = asyncio.create_task(keypad.read_digits(max_digits=9, timeout_s=0.05))
        await asyncio.sleep(0)
        keypad.press("7")
        keypad.press("x")  # not a key: ignored
        return first, await reading

    assert asyncio.run(scenario()) == ("12", "7")


def test_a_call_that_ends_stops_the_read() -> None:
    async def scenario() -> str:
        keypad = KeypadDigits()
        reading = asyncio.create_task(keypad.read_digits(max_digits=9, timeout_s=30))
        await asyncio.sleep(0)
        keypad.press("5")
        keypad.cancel()
        return await asyncio.wait_for(reading, 1)

    assert asyncio.run(scenario()) == "5"
