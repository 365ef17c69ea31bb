"""Business-time arithmetic over a calendar: weekly hours in a time zone, minus holidays.

Pure functions of their arguments (stdlib only), so they run inside the workflow sandbox and are
tested against a brute-force oracle. Instants are timezone-aware; results are in UTC. Business
hours are wall-clock times in the calendar's zone; a wall time that does not exist on a DST
change day (it falls in the gap) is read as the instant the clock jumps past it, and a repeated
wall time is read as its first occurrence (`fold=0`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIDNIGHT = time(0, 0)
ONE_DAY = timedelta(days=1)
# A duration that no calendar with at least one weekly interval needs more than this to cover:
# ten years of holidays in a row is a configuration mistake, not a due date.
_MAX_DAYS = 3660


@dataclass
class WeeklyHours:
    """One interval of business hours on a weekday (0 = Monday); `end` 00:00 means 24:00."""

    weekday: int
    start: time
    end: time


@dataclass
class Closure:
    """A one-off closure (an office move, a strike, half a day before Christmas)."""

    start: datetime
    end: datetime
    reason: str = ""


@dataclass
class CalendarSpec:
    """Weekly hours in a zone, minus holidays (local dates) and one-off closures."""

    name: str = "24x7"
    timezone: str = "UTC"
    always_open: bool = True
    hours: list[WeeklyHours] = field(default_factory=list)
    holidays: list[date] = field(default_factory=list)
    closures: list[Closure] = field(default_factory=list)


TWENTY_FOUR_SEVEN = CalendarSpec()


class CalendarError(ValueError):
    """A calendar that cannot be used to count business time."""


def validate_calendar(cal: CalendarSpec) -> None:
    """Refuse what would make the arithmetic meaningless: bad zone, empty or overlapping hours."""
    try:
        ZoneInfo(cal.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f"unknown time zone {cal.timezone!r}") from exc
    for closure in cal.closures:
        if closure.start.tzinfo is None or closure.end.tzinfo is None:
            raise CalendarError(f"closure {closure.reason or closure.start} needs UTC offsets")
        if closure.end <= closure.start:
            raise CalendarError(f"closure {closure.reason or closure.start} ends before it starts")
    if cal.always_open:
        return
    if not cal.hours:
        raise CalendarError(f"calendar {cal.name!r} has no business hours")
    by_day: dict[int, list[tuple[time, time]]] = {}
    for h in cal.hours:
        if not 0 <= h.weekday <= 6:
            raise CalendarError(f"weekday {h.weekday} is not 0 (Monday) to 6 (Sunday)")
        if h.end != MIDNIGHT and h.end <= h.start:
            raise CalendarError(f"interval {h.start}-{h.end} on weekday {h.weekday} is empty")
        by_day.setdefault(h.weekday, []).append((h.start, h.end))
    for weekday, spans in by_day.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            if end == MIDNIGHT or start < end:
                raise CalendarError(f"intervals overlap on weekday {weekday}")


def add_business_time(cal: CalendarSpec, start: datetime, duration: timedelta) -> datetime:
    """The instant when `duration` of business time has passed since `start`."""
    start = start.astimezone(UTC)
    if _always_open(cal) or duration <= timedelta(0):
        return start + max(duration, timedelta(0))
    left = duration
    for open_at, close_at in _intervals_from(cal, start):
        begin = max(open_at, start)
        if begin >= close_at:
            continue
        if close_at - begin >= left:
            return begin + left
        left -= close_at - begin
    raise CalendarError(f"calendar {cal.name!r} has no business hours within {_MAX_DAYS} days")


def business_time_between(cal: CalendarSpec, start: datetime, end: datetime) -> timedelta:
    """Business time in [start, end); zero when end is not after start."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return timedelta(0)
    if _always_open(cal):
        return end - start
    total = timedelta(0)
    for open_at, close_at in _intervals_from(cal, start):
        if open_at >= end:
            break
        begin, finish = max(open_at, start), min(close_at, end)
        if finish > begin:
            total += finish - begin
    return total


def is_business_time(cal: CalendarSpec, instant: datetime) -> bool:
    if _always_open(cal):
        return True
    instant = instant.astimezone(UTC)
    for open_at, close_at in _intervals_from(cal, instant):
        if open_at > instant:
            return False
        if open_at <= instant < close_at:
            return True
    return False


def _always_open(cal: CalendarSpec) -> bool:
    return cal.always_open and not cal.closures


def _intervals_from(cal: CalendarSpec, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Business intervals in UTC, in order, from the local day before `start` onwards."""
    closures = sorted((c.start.astimezone(UTC), c.end.astimezone(UTC)) for c in cal.closures)
    for open_at, close_at in _open_intervals(cal, start):
        yield from _minus(open_at, close_at, closures)


def _open_intervals(cal: CalendarSpec, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    zone = ZoneInfo(cal.timezone)
    day = start.astimezone(zone).date() - timedelta(days=1)
    if cal.always_open:  # with closures: open all day, every day
        for _ in range(_MAX_DAYS):
            yield _wall_to_utc(day, MIDNIGHT, zone), _wall_to_utc(day + ONE_DAY, MIDNIGHT, zone)
            day += ONE_DAY
        return
    if not cal.hours:
        raise CalendarError(f"calendar {cal.name!r} has no business hours")
    holidays = set(cal.holidays)
    for _ in range(_MAX_DAYS):
        if day not in holidays:
            yield from _day_intervals(cal, zone, day)
        day += ONE_DAY


def _minus(
    open_at: datetime, close_at: datetime, closures: list[tuple[datetime, datetime]]
) -> Iterator[tuple[datetime, datetime]]:
    """The parts of [open_at, close_at) outside every closure."""
    for closed_from, closed_until in closures:
        if closed_until <= open_at or closed_from >= close_at:
            continue
        if closed_from > open_at:
            yield open_at, closed_from
        open_at = max(open_at, closed_until)
        if open_at >= close_at:
            return
    yield open_at, close_at


def _day_intervals(
    cal: CalendarSpec, zone: ZoneInfo, day: date
) -> Iterator[tuple[datetime, datetime]]:
    spans = sorted((h.start, h.end) for h in cal.hours if h.weekday == day.weekday())
    for start, end in spans:
        end_day = day + timedelta(days=1) if end == MIDNIGHT else day
        open_at = _wall_to_utc(day, start, zone)
        close_at = _wall_to_utc(end_day, end, zone)
        if close_at > open_at:
            yield open_at, close_at


def _wall_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """A local wall time as a UTC instant; one in a DST gap becomes the instant of the jump."""
    local = datetime.combine(day, wall, tzinfo=zone)
    after = local.astimezone(UTC)  # fold=0 reads a gap time with the old offset: past the jump
    if after.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return after
    # Bisect (in whole seconds, as zone transitions are) for the first instant showing >= wall.
    naive = local.replace(tzinfo=None)
    low = int(local.replace(fold=1).astimezone(UTC).timestamp())  # before the jump
    high = int(after.timestamp())
    while high - low > 1:
        mid = (low + high) // 2
        shown = datetime.fromtimestamp(mid, UTC).astimezone(zone).replace(tzinfo=None)
        low, high = (low, mid) if shown >= naive else (mid, high)
    return datetime.fromtimestamp(high, UTC)
