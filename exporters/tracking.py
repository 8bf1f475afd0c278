"""What Muara keeps about each filed complaint: LAPOR!'s id, where it is, and its SLA clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from muara.exporters.settings import LaporSettings, SlaSettings
from muara.exporters.sla import Classification, SlaRules, WorkingCalendar, followup_due
from muara.store.lapor_tables import lapor_tracking

_CLASSIFICATIONS = frozenset(item.value for item in Classification)


def calendar_from(settings: SlaSettings) -> WorkingCalendar:
    """The working-day calendar with the configured corrections."""
    return WorkingCalendar.from_lists(settings.extra_days_off, settings.working_days)


def rules_from(settings: SlaSettings) -> SlaRules:
    """The SLA rules with the configured day counts."""
    return SlaRules(verify_days=settings.verify_days, followup_days=dict(settings.followup_days))


def classification_of(extra: dict[str, Any]) -> str:
    """The report's classification as a collector or coordinator recorded it; else a complaint."""
    value = str(extra.get("classification") or "").strip().lower().replace(" ", "_")
    return value if value in _CLASSIFICATIONS else Classification.COMPLAINT.value


def classification_id(settings: LaporSettings, classification: str) -> int:
    """LAPOR!'s master id of a classification (configured; the default id if unmapped)."""
    return settings.classification_ids.get(classification, settings.classification_id)


@dataclass(frozen=True, slots=True)
class Filed:
    """A filing LAPOR! accepted (or was found to hold), to start tracking."""

    complaint_id: int
    lapor_id: str
    agency: str
    institution_id: int
    classification: str


class Tracker:
    """Writes tracking rows in the caller's transaction (the one moving the complaint)."""

    def __init__(
        self,
        calendar: WorkingCalendar,
        rules: SlaRules,
        first_sync_after: timedelta,
    ) -> None:
        self.calendar = calendar
        self.rules = rules
        self.first_sync_after = first_sync_after

    async def filed(self, conn: AsyncConnection, items: Sequence[Filed], now: datetime) -> None:
        """Start the clock of new filings; a complaint tracked already keeps its clock."""
        if not items:
            return
        dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
        await conn.execute(
            dialect.insert(lapor_tracking).on_conflict_do_nothing(index_elements=["complaint_id"]),
            [
                {
                    "complaint_id": item.complaint_id,
                    "lapor_id": item.lapor_id,
                    "agency": item.agency,
                    "institution_id": item.institution_id,
                    "classification": item.classification,
                    "filed_at": now,
                    "due_at": followup_due(self.calendar, self.rules, item.classification, now),
                    "next_sync_at": now + self.first_sync_after,
                    "sync_failures": 0,
                }
                for item in items
            ],
        )

    async def forwarded(self, conn: AsyncConnection, items: Sequence[Filed], now: datetime) -> None:
        """A coordinator's forward: the new agency gets a fresh follow-up clock from now."""
        if not items:
            return
        for item in items:
            due = self.calendar.deadline(now, self.rules.followup(item.classification))
            await conn.execute(
                update(lapor_tracking)
                .where(lapor_tracking.c.complaint_id == bindparam("b_id"))
                .values(
                    agency=item.agency,
                    institution_id=item.institution_id,
                    forwarded_at=now,
                    first_response_at=None,
                    due_at=due,
                    next_sync_at=now + self.first_sync_after,
                ),
                {"b_id": item.complaint_id},
            )
