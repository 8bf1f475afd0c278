"""Plain values the store hands out and takes in; no SQL here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from muara.domain import Decision, State, Suggestion

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock; tests inject their own (DESIGN.md invariant 7)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ComplaintRecord:
    """A stored complaint as a stage sees it."""

    id: int
    channel: str
    source_id: str
    state: State
    received_at: datetime
    text: str
    subject: str | None
    district: str | None
    subdistrict: str | None
    is_anonymous: bool
    is_secret: bool
    agency: str | None
    extra: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    """One state change a stage commits, with what it learned on the way."""

    complaint_id: int
    from_state: State
    to_state: State
    actor: str
    values: dict[str, Any] = field(default_factory=dict)
    suggestion: Suggestion | None = None
    decision: Decision | None = None


@dataclass(frozen=True, slots=True)
class StateCount:
    """How many complaints of a channel sit in a state, and since when the oldest."""

    state: str
    channel: str
    count: int
    oldest_received_at: datetime | None


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What `muara status` and the scrape-time gauges show."""

    states: list[StateCount]
    quarantined: dict[str, int]
    held: int

    def by_state(self) -> dict[str, int]:
        """Totals per state across channels."""
        totals: dict[str, int] = {}
        for row in self.states:
            totals[row.state] = totals.get(row.state, 0) + row.count
        return totals
