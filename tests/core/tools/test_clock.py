"""The clock tool: the user's date, time and weekday from one fixed instant, in several zones."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from core.tools import ToolContext, ToolOutput
from core.tools.clock import check_zone, clock_tool

# A Wednesday evening in UTC: already Thursday in Paris and Tokyo.
EVENING = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
# Early Thursday in UTC: still Wednesday evening in New York.
EARLY = datetime(2026, 12, 3, 2, 15, tzinfo=UTC)
# Summer time: Paris is two hours ahead of UTC, not one.
SUMMER = datetime(2026, 7, 14, 10, 0, tzinfo=UTC)


def ask_time(instant: datetime, time_zone: str) -> ToolOutput:
    context = ToolContext(
        user_id=1,
        username="ada",
        session_id="s1",
        channel="phone",
        language="en",
        time_zone=time_zone,
    )
    return asyncio.run(clock_tool(now=lambda: instant).run({}, context))


@pytest.mark.parametrize(
    ("instant", "time_zone", "date", "time", "weekday"),
    [
        (EVENING, "UTC", "2026-12-02", "23:30", "Wednesday"),
        (EVENING, "Europe/Paris", "2026-12-03", "00:30", "Thursday"),
        (EVENING, "Asia/Tokyo", "2026-12-03", "08:30", "Thursday"),
        (EVENING, "America/New_York", "2026-12-02", "18:30", "Wednesday"),
        (EARLY, "America/New_York", "2026-12-02", "21:15", "Wednesday"),
        (EARLY, "Asia/Kolkata", "2026-12-03", "07:45", "Thursday"),
        (SUMMER, "Europe/Paris", "2026-07-14", "12:00", "Tuesday"),
    ],
)
def test_tells_the_time_in_the_users_zone(
    instant: datetime, time_zone: str, date: str, time: str, weekday: str
) -> None:
    output = ask_time(instant, time_zone)
    assert output.ok
    assert output.action is None
    assert output.content == {
        "date": date,
        "time": time,
        "weekday": weekday,
        "time_zone": time_zone,
    }


@pytest.mark.parametrize("time_zone", ["Mars/Olympus_Mons", "/etc/localtime", ""])
def test_an_unknown_zone_falls_back_to_utc(time_zone: str) -> None:
    output = ask_time(EVENING, time_zone)
    assert output.ok
    assert output.content == {
        "date": "2026-12-02",
        "time": "23:30",
        "weekday": "Wednesday",
        "time_zone": "UTC",
    }


def test_the_real_clock_is_the_default() -> None:
    before = datetime.now(UTC)
    context = ToolContext(
        user_id=1, username="ada", session_id="s1", channel="web", language="en", time_zone="UTC"
    )
    output = asyncio.run(clock_tool().run({}, context))
    after = datetime.now(UTC)
    assert output.content["date"] in {before.date().isoformat(), after.date().isoformat()}
    assert output.content["time"] in {f"{before:%H:%M}", f"{after:%H:%M}"}


def test_the_tool_describes_itself_to_the_model() -> None:
    function = clock_tool().spec()["function"]
    assert function["name"] == "current_time"
    assert "day of the week" in function["description"]
    assert function["parameters"] == {"type": "object", "properties": {}}


@pytest.mark.parametrize(
    "name", ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "Asia/Tokyo"]
)
def test_check_zone_accepts_iana_names(name: str) -> None:
    assert check_zone(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus_Mons",
        "Europe",  # a folder of zones, not a zone
        "",
        " Europe/Paris",
        "/etc/passwd",
        "/usr/share/zoneinfo/Europe/Paris",
        "../../etc/passwd",
        "Europe/../Europe/Paris",
        "Europe\\Paris",
        "Europe/Paris\x00",
    ],
)
def test_check_zone_refuses_unknown_and_path_like_names(name: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_zone(name)
    message = str(refused.value)
    assert message.startswith("TIME_ZONE must be an IANA time zone name such as Europe/Paris")
    assert repr(name) in message
