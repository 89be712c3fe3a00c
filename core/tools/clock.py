"""The `current_time` tool: today's date, time and weekday in the user's time zone."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.tools import JsonObject, Tool, ToolContext, ToolOutput

logger = logging.getLogger(__name__)

# IANA names (Europe/Paris, America/Argentina/Buenos_Aires, Etc/GMT+5): words joined by
# slashes, so nothing that reads as a file path (/etc/passwd, ../x) reaches zoneinfo.
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")

# Fixed English names: strftime("%A") follows the process locale.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def check_zone(value: str) -> str:
    """`value` if it names a time zone zoneinfo knows, else a ValueError naming TIME_ZONE."""
    problem = f"TIME_ZONE must be an IANA time zone name such as Europe/Paris, not {value!r}"
    if not _ZONE_NAME.fullmatch(value):
        raise ValueError(problem)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(problem) from exc
    return value


def _utc_now() -> datetime:
    return datetime.now(UTC)


def clock_tool(*, now: Callable[[], datetime] | None = None) -> Tool:
    """The `current_time` tool. `now` returns an aware datetime (the real clock by default);
    tests pass a fixed one."""
    clock = now or _utc_now

    async def run(args: JsonObject, ctx: ToolContext) -> ToolOutput:
        zone_name = ctx.time_zone
        try:
            zone = ZoneInfo(check_zone(zone_name))
        except ValueError as exc:
            # Settings validate TIME_ZONE; a bad zone here must not cost the user the answer.
            logger.warning("Clock falls back to UTC: %s", exc)
            zone_name, zone = "UTC", ZoneInfo("UTC")
        local = clock().astimezone(zone)
        return ToolOutput(
            content={
                "date": local.date().isoformat(),
                "time": local.strftime("%H:%M"),
                "weekday": _WEEKDAYS[local.weekday()],
                "time_zone": zone_name,
            }
        )

    return Tool(
        name="current_time",
        description=(
            "The current date and time where the user is. Use it whenever the user asks the "
            "time, the date or the day of the week."
        ),
        parameters={"type": "object", "properties": {}},
        run=run,
    )
