"""SLA clocks in Indonesian working days: a pure calendar and the deadlines LAPOR! rules set.

Working days exclude Saturdays, Sundays, national holidays and collective leave (*cuti bersama*).
Both holiday kinds come from the maintained `holidays` library: its `public` category holds the
national holidays and its `government` category the collective leave days of the joint ministerial
decree (SKB 3 Menteri). The decree is revised during the year now and then, and a region may add a
local day off, so the configuration can add days off and give days back (`SlaSettings`).

Deadlines are counted from the day after the start, in WIB (UTC+7), and fall at the end of the
last working day (midnight WIB), the way an office reads "within 5 working days".
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

from muara.exporters.lapor.payload import WIB

# Categories of `holidays.Indonesia`: national holidays and collective leave (cuti bersama).
HOLIDAY_CATEGORIES = ("public", "government")
_MAX_DAYS = 3660  # no deadline is ten years of days off away: guards against a bad config


class Classification(enum.StrEnum):
    """The report classifications of LAPOR! v3 (lapor-v3.md)."""

    ASPIRATION = "aspiration"
    COMPLAINT = "complaint"
    INFORMATION_REQUEST = "information_request"
    WHISTLEBLOWING = "whistleblowing"


@lru_cache(maxsize=64)
def _library_days_off(year: int) -> frozenset[date]:
    found = holidays.country_holidays("ID", years=year, categories=HOLIDAY_CATEGORIES)
    return frozenset(found.keys())


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days an Indonesian government office works; pure apart from the library's tables."""

    extra_days_off: frozenset[date] = field(default_factory=frozenset)
    working_days: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_lists(
        cls, extra_days_off: Iterable[date] = (), working_days: Iterable[date] = ()
    ) -> WorkingCalendar:
        """A calendar with the configured corrections to the library's days off."""
        return cls(frozenset(extra_days_off), frozenset(working_days))

    def is_working_day(self, day: date) -> bool:
        """False on weekends, holidays and collective leave, unless given back by the config."""
        if day in self.working_days:
            return True
        if day.weekday() >= 5 or day in self.extra_days_off:
            return False
        return day not in _library_days_off(day.year)

    def add_working_days(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (`start` itself never counts)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current, counted = start, 0
        for _ in range(_MAX_DAYS):
            if counted == days:
                return current
            current += timedelta(days=1)
            if self.is_working_day(current):
                counted += 1
        raise ValueError("no working day within ten years: check the SLA calendar settings")

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 if `end` is not later)."""
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            count += self.is_working_day(current)
        return count

    def deadline(self, start: datetime, days: int) -> datetime:
        """End (midnight WIB) of the `days`-th working day after the WIB day of `start`."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        last = self.add_working_days(start.astimezone(WIB).date(), days)
        return datetime.combine(last + timedelta(days=1), time(0), tzinfo=WIB)


@dataclass(frozen=True, slots=True)
class SlaRules:
    """How many working days each step may take (lapor-v3.md, "Rules that bind the agencies")."""

    verify_days: int = 3
    followup_days: dict[str, int] = field(
        default_factory=lambda: {
            Classification.ASPIRATION.value: 5,
            Classification.COMPLAINT.value: 5,
            Classification.INFORMATION_REQUEST.value: 10,
            Classification.WHISTLEBLOWING.value: 5,
        }
    )
    default_followup_days: int = 5

    def followup(self, classification: str) -> int:
        """Working days the agency has to follow up a report of this classification."""
        return self.followup_days.get(classification, self.default_followup_days)


def followup_due(
    calendar: WorkingCalendar,
    rules: SlaRules,
    classification: str,
    filed_at: datetime,
    forwarded_at: datetime | None = None,
) -> datetime:
    """When the agency's first follow-up is due.

    Until LAPOR! is seen to have verified and forwarded the report, the agency's days are counted
    after LAPOR!'s own verification days; once it has, from that moment.
    """
    if forwarded_at is not None:
        return calendar.deadline(forwarded_at, rules.followup(classification))
    return calendar.deadline(filed_at, rules.verify_days + rules.followup(classification))


class SlaStanding(enum.StrEnum):
    """Where an open clock stands against its deadline."""

    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    BREACHED = "breached"


def standing(due_at: datetime, now: datetime, soon: timedelta = timedelta(hours=24)) -> SlaStanding:
    """Breached once `now` has reached the deadline; due soon within `soon` of it."""
    if now >= due_at:
        return SlaStanding.BREACHED
    if due_at - now <= soon:
        return SlaStanding.DUE_SOON
    return SlaStanding.ON_TIME
