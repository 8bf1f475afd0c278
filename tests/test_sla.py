"""The working-day calendar and SLA deadlines: weekends, national holidays, collective leave."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from muara.exporters.lapor.payload import WIB
from muara.exporters.sla import (
    Classification,
    SlaRules,
    SlaStanding,
    WorkingCalendar,
    followup_due,
    standing,
)

CALENDAR = WorkingCalendar()


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        (date(2026, 3, 17), True, "Tuesday before Nyepi and Lebaran"),
        (date(2026, 3, 18), False, "Nyepi collective leave (cuti bersama)"),
        (date(2026, 3, 19), False, "Nyepi, national holiday"),
        (date(2026, 3, 20), False, "Idul Fitri collective leave"),
        (date(2026, 3, 21), False, "Idul Fitri (a Saturday anyway)"),
        (date(2026, 3, 23), False, "Idul Fitri collective leave, Monday"),
        (date(2026, 3, 24), False, "Idul Fitri collective leave, Tuesday"),
        (date(2026, 3, 25), True, "first working day after Lebaran"),
        (date(2026, 12, 24), False, "Christmas collective leave"),
        (date(2026, 12, 25), False, "Christmas"),
        (date(2026, 12, 28), True, "Monday after Christmas"),
        (date(2026, 12, 31), True, "New Year's Eve is a working day"),
        (date(2027, 1, 1), False, "New Year's Day"),
        (date(2026, 11, 28), False, "a plain Saturday"),
        (date(2026, 11, 30), True, "a plain Monday"),
    ],
)
def test_working_days_around_lebaran_and_year_end(day: date, working: bool, why: str) -> None:
    assert CALENDAR.is_working_day(day) is working, why


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Lebaran 2026: from the Tuesday before, seven calendar days pass without a working day.
        (date(2026, 3, 17), 1, date(2026, 3, 25)),
        (date(2026, 3, 17), 5, date(2026, 3, 31)),
        (date(2026, 3, 13), 3, date(2026, 3, 25)),
        # Year end: Christmas leave, Christmas, the weekend, New Year's Day, the weekend.
        (date(2026, 12, 23), 1, date(2026, 12, 28)),
        (date(2026, 12, 23), 5, date(2027, 1, 4)),
        (date(2026, 12, 30), 2, date(2027, 1, 4)),
        (date(2026, 11, 27), 0, date(2026, 11, 27)),
        (date(2026, 11, 27), 1, date(2026, 11, 30)),
    ],
)
def test_add_working_days(start: date, days: int, expected: date) -> None:
    assert CALENDAR.add_working_days(start, days) == expected
    assert CALENDAR.working_days_between(start, expected) == days


def test_configured_corrections_add_and_give_back_days() -> None:
    # A regional day off on Monday 30 November; a revised SKB gives back 24 December.
    calendar = WorkingCalendar.from_lists([date(2026, 11, 30)], [date(2026, 12, 24)])

    assert not calendar.is_working_day(date(2026, 11, 30))
    assert calendar.add_working_days(date(2026, 11, 27), 1) == date(2026, 12, 1)
    assert calendar.is_working_day(date(2026, 12, 24))
    assert calendar.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 24)


def test_deadline_is_midnight_wib_after_the_last_working_day() -> None:
    # Filed on Friday 13 March 2026 at 23:30 WIB (16:30 UTC): the WIB day counts, not UTC's.
    filed = datetime(2026, 3, 13, 16, 30, tzinfo=UTC)

    assert CALENDAR.deadline(filed, 3) == datetime(2026, 3, 26, 0, 0, tzinfo=WIB)
    # The same instant seen in UTC on the 13th, but 00:30 WIB on the 14th: a Saturday.
    later = datetime(2026, 3, 13, 17, 30, tzinfo=UTC)
    assert CALENDAR.deadline(later, 1) == datetime(2026, 3, 17, 0, 0, tzinfo=WIB)


def test_followup_due_counts_verification_until_lapor_forwards() -> None:
    rules = SlaRules()
    filed = datetime(2026, 3, 13, 3, 0, tzinfo=UTC)  # Friday 10:00 WIB

    # 3 verification + 5 follow-up days: 16, 17, 25, 26, 27, 30, 31 March, 1 April.
    assert followup_due(CALENDAR, rules, "complaint", filed) == datetime(2026, 4, 2, tzinfo=WIB)
    # LAPOR! forwarded it on Monday 16 March: 5 days from then (17, 25, 26, 27, 30 March).
    forwarded = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)
    assert followup_due(CALENDAR, rules, "complaint", filed, forwarded) == datetime(
        2026, 3, 31, tzinfo=WIB
    )
    # Information requests have 10 working days (UU 14/2008 art. 22(7)); Good Friday is off.
    assert followup_due(
        CALENDAR, rules, Classification.INFORMATION_REQUEST, filed, forwarded
    ) == datetime(2026, 4, 8, tzinfo=WIB)


@pytest.mark.parametrize(
    ("hours_left", "expected"),
    [
        (48, SlaStanding.ON_TIME),
        (24, SlaStanding.DUE_SOON),
        (0.5, SlaStanding.DUE_SOON),
        (0, SlaStanding.BREACHED),
        (-5, SlaStanding.BREACHED),
    ],
)
def test_standing(hours_left: float, expected: SlaStanding) -> None:
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert standing(now + timedelta(hours=hours_left), now) is expected


def test_naive_start_and_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        CALENDAR.deadline(datetime(2026, 3, 13, 10, 0), 1)  # noqa: DTZ001
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add_working_days(date(2026, 3, 13), -1)


@given(
    st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
    st.integers(min_value=0, max_value=40),
)
def test_added_days_land_on_a_working_day_and_count_back(start: date, days: int) -> None:
    end = CALENDAR.add_working_days(start, days)

    assert end >= start
    assert days == 0 or CALENDAR.is_working_day(end)
    assert CALENDAR.working_days_between(start, end) == days
