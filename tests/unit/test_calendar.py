"""Business-time arithmetic, checked against a brute-force oracle stepping one minute at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caseflow.workflows.calendar import (
    TWENTY_FOUR_SEVEN,
    CalendarError,
    CalendarSpec,
    Closure,
    WeeklyHours,
    add_business_time,
    business_time_between,
    is_business_time,
    validate_calendar,
)
from tests.unit.factories import business_hours_calendar

MINUTE = timedelta(minutes=1)
DAY_MINUTES = 24 * 60
SUNDAY = 6

# Days near which the drawn ranges start, so that most of them cross a DST change.
DST_CHANGES: dict[str, list[date]] = {
    "Europe/Paris": [date(2026, 3, 29), date(2026, 10, 25)],
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1)],
    "Australia/Lord_Howe": [date(2026, 4, 5), date(2026, 10, 4)],  # 30-minute changes
    "Asia/Kolkata": [date(2026, 6, 1)],
    "UTC": [date(2026, 2, 27)],
}
# Wall-clock hour repeated when clocks go back, as minutes of the day. A boundary strictly inside
# it is read as its first occurrence and the interval stays one span, where a pure wall-clock
# reading would close and reopen; the property tests leave such boundaries to explicit examples.
REPEATED_HOUR: dict[str, tuple[int, int]] = {
    "Europe/Paris": (120, 180),
    "America/New_York": (60, 120),
    "Australia/Lord_Howe": (90, 120),
}

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ZoneInfo(zone))


def minute_of_day(t: time) -> int:
    return t.hour * 60 + t.minute


def as_time(minute: int) -> time:
    return time(0) if minute == DAY_MINUTES else time(minute // 60, minute % 60)


# ---------------------------------------------------------------------------------------------
# The oracle: written from the definition, not from the code under test


def oracle_is_business(cal: CalendarSpec, instant: datetime) -> bool:
    """Open when the local wall time is in an interval of its weekday, on no holiday, and the
    instant is in no closure."""
    if any(c.start <= instant < c.end for c in cal.closures):
        return False
    if cal.always_open:
        return True
    wall = instant.astimezone(ZoneInfo(cal.timezone))
    if wall.date() in cal.holidays:
        return False
    now = minute_of_day(wall.time())
    for h in cal.hours:
        end = DAY_MINUTES if h.end == time(0) else minute_of_day(h.end)
        if h.weekday == wall.weekday() and minute_of_day(h.start) <= now < end:
            return True
    return False


def oracle_minutes(cal: CalendarSpec, start: datetime, count: int) -> list[bool]:
    """For each of `count` UTC minutes from `start`, whether it is business time."""
    return [oracle_is_business(cal, start + i * MINUTE) for i in range(count)]


def oracle_between(cal: CalendarSpec, start: datetime, end: datetime) -> timedelta:
    count = int((end - start) / MINUTE)
    return sum(oracle_minutes(cal, start, count), 0) * MINUTE if count > 0 else timedelta(0)


# ---------------------------------------------------------------------------------------------
# Strategies


@st.composite
def day_intervals(draw: st.DrawFn, zone: str) -> list[tuple[int, int]]:
    """Zero to three disjoint intervals of one day, as minutes; 1440 is 24:00."""
    low, high = REPEATED_HOUR.get(zone, (0, 0))
    boundary = (
        st.integers(0, DAY_MINUTES // 5).map(lambda m: m * 5).filter(lambda m: not low < m < high)
    )
    pairs = draw(st.integers(0, 3))
    points = sorted(draw(st.sets(boundary, min_size=2 * pairs, max_size=2 * pairs)))
    return list(zip(points[::2], points[1::2], strict=True))


@st.composite
def calendars(draw: st.DrawFn) -> tuple[CalendarSpec, datetime]:
    """A calendar with hours and holidays, and a minute-aligned instant near a DST change."""
    zone = draw(st.sampled_from(sorted(DST_CHANGES)))
    hours = [
        WeeklyHours(weekday=day, start=as_time(start), end=as_time(end))
        for day in range(7)
        for start, end in draw(day_intervals(zone))
    ]
    if not hours:
        hours = [WeeklyHours(weekday=draw(st.integers(0, 6)), start=time(9), end=time(17))]
    change = draw(st.sampled_from(DST_CHANGES[zone]))
    first = datetime.combine(change - timedelta(days=2), time(0), tzinfo=ZoneInfo(zone))
    start = first.astimezone(UTC) + draw(st.integers(0, 3 * DAY_MINUTES)) * MINUTE
    around = [change + timedelta(days=n) for n in range(-3, 4)]
    holidays = draw(st.lists(st.sampled_from(around), max_size=2, unique=True))
    closures = [
        Closure(begin, begin + length * MINUTE, "drawn")
        for begin, length in draw(
            st.lists(
                st.tuples(
                    st.integers(-DAY_MINUTES, 4 * DAY_MINUTES).map(lambda m: start + m * MINUTE),
                    st.integers(1, 2 * DAY_MINUTES),
                ),
                max_size=2,
            )
        )
    ]
    always_open = draw(st.booleans()) and bool(closures)  # 24x7 minus closures, sometimes
    cal = CalendarSpec(
        name="drawn",
        timezone=zone,
        always_open=always_open,
        hours=[] if always_open else hours,
        holidays=[] if always_open else holidays,
        closures=closures,
    )
    validate_calendar(cal)
    return cal, start


# ---------------------------------------------------------------------------------------------
# Properties against the oracle


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(drawn=calendars(), minutes=st.integers(0, 4 * DAY_MINUTES))
def test_business_time_between_counts_the_business_minutes_of_the_oracle(
    drawn: tuple[CalendarSpec, datetime], minutes: int
) -> None:
    cal, start = drawn
    end = start + minutes * MINUTE
    assert business_time_between(cal, start, end) == oracle_between(cal, start, end)


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(drawn=calendars(), data=st.data())
def test_add_business_time_ends_after_the_oracles_nth_business_minute(
    drawn: tuple[CalendarSpec, datetime], data: st.DataObject
) -> None:
    cal, start = drawn
    open_minutes = [
        i for i, is_open in enumerate(oracle_minutes(cal, start, 4 * DAY_MINUTES)) if is_open
    ]
    if not open_minutes:
        return
    nth = data.draw(st.integers(1, len(open_minutes)), label="business minutes")
    expected = start + (open_minutes[nth - 1] + 1) * MINUTE
    assert add_business_time(cal, start, nth * MINUTE) == expected


@PROPERTY_SETTINGS
@given(drawn=calendars(), minutes=st.integers(0, 3 * DAY_MINUTES))
def test_is_business_time_agrees_with_the_oracle(
    drawn: tuple[CalendarSpec, datetime], minutes: int
) -> None:
    cal, start = drawn
    instant = start + minutes * MINUTE
    assert is_business_time(cal, instant) == oracle_is_business(cal, instant)


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(drawn=calendars(), data=st.data())
def test_business_time_between_start_and_added_duration_is_that_duration(
    drawn: tuple[CalendarSpec, datetime], data: st.DataObject
) -> None:
    cal, start = drawn
    offset = data.draw(st.integers(0, 3 * DAY_MINUTES), label="offset")
    start += offset * MINUTE
    if not oracle_is_business(cal, start):
        return
    duration = data.draw(st.integers(0, 2 * DAY_MINUTES), label="duration") * MINUTE
    assert business_time_between(cal, start, add_business_time(cal, start, duration)) == duration


# ---------------------------------------------------------------------------------------------
# Daylight saving changes


def test_paris_spring_forward_sunday_has_twenty_three_hours_of_business_time() -> None:
    cal = business_hours_calendar(start=time(0), end=time(0))
    cal.hours.append(WeeklyHours(weekday=SUNDAY, start=time(0), end=time(0)))
    day_start, next_day = local("Europe/Paris", 2026, 3, 29), local("Europe/Paris", 2026, 3, 30)
    assert business_time_between(cal, day_start, next_day) == timedelta(hours=23)


def test_paris_hours_across_the_spring_forward_gap_count_only_wall_clock_time() -> None:
    cal = CalendarSpec(
        timezone="Europe/Paris",
        always_open=False,
        hours=[WeeklyHours(weekday=SUNDAY, start=time(1), end=time(4))],
    )
    # 01:00-02:00 CET, then the clock jumps to 03:00 CEST: two hours, opening at 00:00 UTC.
    assert business_time_between(cal, utc(2026, 3, 29), utc(2026, 3, 30)) == timedelta(hours=2)
    assert add_business_time(cal, utc(2026, 3, 29, 0, 30), timedelta(hours=1)) == utc(
        2026, 3, 29, 1, 30
    )


def test_interval_closing_inside_the_spring_forward_gap_closes_at_the_jump() -> None:
    cal = CalendarSpec(
        timezone="Europe/Paris",
        always_open=False,
        hours=[
            WeeklyHours(weekday=SUNDAY, start=time(1), end=time(2, 30)),
            WeeklyHours(weekday=SUNDAY, start=time(3), end=time(5)),
        ],
    )
    start = utc(2026, 3, 29, 0)
    assert business_time_between(cal, start, start + timedelta(hours=3)) == timedelta(hours=3)
    assert add_business_time(cal, start, timedelta(hours=2)) == utc(2026, 3, 29, 2)


def test_interval_opening_inside_the_spring_forward_gap_opens_at_the_jump() -> None:
    cal = CalendarSpec(
        timezone="Australia/Lord_Howe",
        always_open=False,
        hours=[WeeklyHours(weekday=SUNDAY, start=time(2, 10), end=time(4))],
    )
    # 2026-10-04 02:00 +10:30 jumps to 02:30 +11:00, i.e. at 15:30 UTC the day before.
    assert add_business_time(cal, utc(2026, 10, 3, 12), MINUTE) == utc(2026, 10, 3, 15, 31)
    assert business_time_between(cal, utc(2026, 10, 3), utc(2026, 10, 5)) == timedelta(hours=1.5)


def test_new_york_fall_back_sunday_has_twenty_five_hours_of_business_time() -> None:
    cal = CalendarSpec(
        timezone="America/New_York",
        always_open=False,
        hours=[WeeklyHours(weekday=SUNDAY, start=time(0), end=time(0))],
    )
    day_start = local("America/New_York", 2026, 11, 1)
    next_day = local("America/New_York", 2026, 11, 2)
    assert business_time_between(cal, day_start, next_day) == timedelta(hours=25)
    assert add_business_time(cal, day_start, timedelta(hours=25)) == next_day


def test_new_york_office_hours_keep_their_length_over_the_fall_back_weekend() -> None:
    cal = business_hours_calendar("America/New_York")
    friday_noon = local("America/New_York", 2026, 10, 30, 12)
    monday_noon = local("America/New_York", 2026, 11, 2, 12)
    assert business_time_between(cal, friday_noon, monday_noon) == timedelta(hours=8)
    assert add_business_time(cal, friday_noon, timedelta(hours=8)) == monday_noon


def test_interval_opening_in_the_repeated_hour_opens_at_its_first_occurrence() -> None:
    cal = CalendarSpec(
        timezone="America/New_York",
        always_open=False,
        hours=[WeeklyHours(weekday=SUNDAY, start=time(1, 30), end=time(3))],
    )
    # 01:30 EDT (05:30 UTC) to 03:00 EST (08:00 UTC), one span through the repeated hour.
    assert business_time_between(cal, utc(2026, 11, 1), utc(2026, 11, 2)) == timedelta(hours=2.5)
    assert is_business_time(cal, utc(2026, 11, 1, 6, 15))  # 01:15 EST, second time round


# ---------------------------------------------------------------------------------------------
# Edges


def test_always_open_calendar_counts_wall_time_even_across_a_dst_change() -> None:
    start, end = utc(2026, 3, 28, 12, 0, 0), utc(2026, 3, 30, 12, 0, 0)
    paris_24x7 = CalendarSpec(timezone="Europe/Paris")
    assert business_time_between(paris_24x7, start, end) == timedelta(hours=48)
    assert add_business_time(TWENTY_FOUR_SEVEN, start, timedelta(hours=48)) == end
    assert is_business_time(TWENTY_FOUR_SEVEN, start)


def test_adding_zero_business_time_returns_the_start_even_out_of_hours() -> None:
    cal = business_hours_calendar()
    saturday = utc(2026, 6, 6, 10, 17, 3)
    assert add_business_time(cal, saturday, timedelta(0)) == saturday
    assert add_business_time(cal, saturday, -timedelta(hours=1)) == saturday


def test_business_time_between_is_zero_when_end_is_not_after_start() -> None:
    cal = business_hours_calendar()
    monday_ten = local("Europe/Paris", 2026, 6, 1, 10)
    assert business_time_between(cal, monday_ten, monday_ten) == timedelta(0)
    assert business_time_between(cal, monday_ten, monday_ten - timedelta(hours=1)) == timedelta(0)


def test_adding_from_friday_evening_lands_on_monday_morning() -> None:
    cal = business_hours_calendar()
    friday_evening = local("Europe/Paris", 2026, 6, 5, 18)
    assert add_business_time(cal, friday_evening, timedelta(hours=1)) == local(
        "Europe/Paris", 2026, 6, 8, 10
    )


def test_holiday_is_skipped_by_its_local_date() -> None:
    cal = business_hours_calendar("Asia/Kolkata")
    cal.holidays = [date(2026, 6, 8)]  # a Monday
    friday_four = local("Asia/Kolkata", 2026, 6, 5, 16)
    assert add_business_time(cal, friday_four, timedelta(hours=2)) == local(
        "Asia/Kolkata", 2026, 6, 9, 10
    )
    assert not is_business_time(cal, local("Asia/Kolkata", 2026, 6, 8, 12))


def test_end_of_day_midnight_means_twenty_four_hundred() -> None:
    cal = CalendarSpec(
        timezone="UTC",
        always_open=False,
        hours=[WeeklyHours(weekday=4, start=time(18), end=time(0))],  # Friday evenings
    )
    validate_calendar(cal)
    assert business_time_between(cal, utc(2026, 6, 5, 12), utc(2026, 6, 6, 12)) == timedelta(
        hours=6
    )
    assert is_business_time(cal, utc(2026, 6, 5, 23, 59))
    assert not is_business_time(cal, utc(2026, 6, 6, 0, 0))
    assert add_business_time(cal, utc(2026, 6, 5, 18), timedelta(hours=6)) == utc(2026, 6, 6)


def test_calendar_with_hours_on_one_day_only_counts_across_weeks() -> None:
    cal = CalendarSpec(
        timezone="UTC",
        always_open=False,
        hours=[WeeklyHours(weekday=2, start=time(10), end=time(11))],
    )
    assert add_business_time(cal, utc(2026, 6, 1), timedelta(hours=3)) == utc(2026, 6, 17, 11)


# ---------------------------------------------------------------------------------------------
# Validation


def test_validate_calendar_accepts_business_hours_and_the_default() -> None:
    validate_calendar(business_hours_calendar())
    validate_calendar(TWENTY_FOUR_SEVEN)


def test_validate_calendar_refuses_an_unknown_time_zone() -> None:
    with pytest.raises(CalendarError, match="time zone"):
        validate_calendar(CalendarSpec(timezone="Mars/Olympus_Mons"))


def test_validate_calendar_refuses_a_calendar_without_business_hours() -> None:
    with pytest.raises(CalendarError, match="no business hours"):
        validate_calendar(CalendarSpec(always_open=False))


@pytest.mark.parametrize("weekday", [-1, 7])
def test_validate_calendar_refuses_a_weekday_out_of_range(weekday: int) -> None:
    cal = CalendarSpec(
        always_open=False, hours=[WeeklyHours(weekday=weekday, start=time(9), end=time(17))]
    )
    with pytest.raises(CalendarError, match="weekday"):
        validate_calendar(cal)


@pytest.mark.parametrize(
    ("start", "end"), [(time(17), time(9)), (time(9), time(9))], ids=["backwards", "empty"]
)
def test_validate_calendar_refuses_an_empty_interval(start: time, end: time) -> None:
    cal = CalendarSpec(always_open=False, hours=[WeeklyHours(weekday=0, start=start, end=end)])
    with pytest.raises(CalendarError, match="empty"):
        validate_calendar(cal)


@pytest.mark.parametrize(
    "second",
    [(time(11), time(13)), (time(9), time(17)), (time(12), time(0))],
    ids=["overlapping", "same", "until-midnight"],
)
def test_validate_calendar_refuses_overlapping_intervals_on_a_weekday(
    second: tuple[time, time],
) -> None:
    cal = CalendarSpec(
        always_open=False,
        hours=[
            WeeklyHours(weekday=2, start=time(9), end=time(12, 30)),
            WeeklyHours(weekday=2, start=second[0], end=second[1]),
        ],
    )
    with pytest.raises(CalendarError, match="overlap"):
        validate_calendar(cal)


def test_validate_calendar_accepts_back_to_back_intervals() -> None:
    cal = CalendarSpec(
        always_open=False,
        hours=[
            WeeklyHours(weekday=2, start=time(9), end=time(12)),
            WeeklyHours(weekday=2, start=time(12), end=time(0)),
        ],
    )
    validate_calendar(cal)


def test_a_closure_removes_its_business_time_and_delays_the_due_instant() -> None:
    cal = business_hours_calendar()  # Paris, Monday to Friday 09:00-17:00
    closure = Closure(
        local("Europe/Paris", 2026, 12, 24, 12), local("Europe/Paris", 2026, 12, 24, 17)
    )
    closed = CalendarSpec(**{**cal.__dict__, "closures": [closure]})
    start = local("Europe/Paris", 2026, 12, 24, 9)
    assert business_time_between(cal, start, start + timedelta(hours=8)) == timedelta(hours=8)
    assert business_time_between(closed, start, start + timedelta(hours=8)) == timedelta(hours=3)
    assert add_business_time(closed, start, timedelta(hours=4)) == local(
        "Europe/Paris", 2026, 12, 25, 10
    ).astimezone(UTC)


def test_a_closure_on_a_twenty_four_seven_calendar_stops_the_clock() -> None:
    start = utc(2026, 6, 1, 8)
    closed = CalendarSpec(closures=[Closure(utc(2026, 6, 1, 9), utc(2026, 6, 1, 11))])
    assert add_business_time(closed, start, timedelta(hours=2)) == utc(2026, 6, 1, 12)
    assert business_time_between(closed, start, utc(2026, 6, 1, 12)) == timedelta(hours=2)


@pytest.mark.parametrize(
    ("closure", "message"),
    [
        (Closure(utc(2026, 6, 2), utc(2026, 6, 1)), "ends before it starts"),
        (Closure(datetime(2026, 6, 1), datetime(2026, 6, 2)), "needs UTC offsets"),
    ],
)
def test_validate_calendar_refuses_a_bad_closure(closure: Closure, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        validate_calendar(CalendarSpec(closures=[closure]))
