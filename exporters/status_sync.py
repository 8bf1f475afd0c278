"""Status sync: reads the status and follow-ups of filed complaints back from LAPOR! on a schedule.

Young filings are read more often (they move most in their first days). Every status LAPOR!
reports is kept (`lapor_status_history`), every follow-up too (`lapor_followups`); the first
follow-up stops the SLA clock, and a complaint LAPOR! closed becomes CLOSED here. Status names
come from LAPOR!: which ones mean "closed" is configuration (`lapor.closed_statuses`).

Reads are safe to repeat, and every write is idempotent (unique keys, `closed_at` set once), so
two replicas reading the same complaint at once do no harm.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muara.domain import State, check_transition
from muara.exporters.lapor.client import LaporClient
from muara.exporters.lapor.errors import LaporError
from muara.exporters.lapor.payload import WIB
from muara.exporters.metrics import Metrics
from muara.exporters.settings import LaporSettings, SlaSettings
from muara.exporters.sla import followup_due
from muara.exporters.tracking import calendar_from, rules_from
from muara.store.lapor_tables import lapor_followups, lapor_status_history, lapor_tracking
from muara.store.records import Clock
from muara.store.tables import complaints, state_history

log = logging.getLogger(__name__)

ACTOR = "lapor:status-sync"


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One status a complaint was in, as LAPOR!'s `data_logs` reports it."""

    code: str
    name: str
    at: datetime


@dataclass(frozen=True, slots=True)
class FollowupEntry:
    """One follow-up as LAPOR! reports it."""

    key: str
    at: datetime
    author: str | None
    content: str


def parse_lapor_time(value: Any) -> datetime | None:
    """LAPOR!'s `d-m-Y H:i:s` (WIB), or an ISO 8601 timestamp; None if neither."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return datetime.strptime(text, "%d-%m-%Y %H:%M:%S").replace(tzinfo=WIB)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=WIB)


def status_entries(detail: dict[str, Any]) -> list[StatusEntry]:
    """The status history in a complaint detail, oldest first; unusable entries skipped."""
    found = []
    for log_entry in detail.get("data_logs") or []:
        if not isinstance(log_entry, dict):
            continue
        at = parse_lapor_time(log_entry.get("created_at"))
        code, name = log_entry.get("status_code"), log_entry.get("status_name")
        if at is not None and (code or name):
            found.append(StatusEntry(str(code or name), str(name or code), at))
    return sorted(found, key=lambda entry: entry.at)


def followup_entries(rows: Iterable[dict[str, Any]]) -> list[FollowupEntry]:
    """Follow-ups with a stable key each (LAPOR!'s id, else a digest of time and text)."""
    found = []
    for row in rows:
        at = parse_lapor_time(row.get("created_at"))
        if at is None:
            continue
        content = str(row.get("content") or "")
        ident = row.get("id")
        key = (
            f"id:{ident}"
            if ident is not None
            else "sha256:"
            + hashlib.sha256(f"{at.isoformat()}\n{content}".encode()).hexdigest()[:40]
        )
        author = row.get("institution_id") or row.get("user_id")
        found.append(FollowupEntry(key, at, None if author is None else str(author), content))
    return found


def is_closed(code: str | None, name: str | None, closed: Sequence[str]) -> bool:
    """Whether LAPOR!'s status means closed, by the configured codes or names (any case)."""
    wanted = {item.casefold() for item in closed}
    return any(value is not None and value.casefold() in wanted for value in (code, name))


def next_sync(filed_at: datetime, now: datetime, settings: LaporSettings) -> datetime:
    """When to read a filing again: sooner while it is young."""
    young = now - filed_at < timedelta(seconds=settings.sync_young_age_seconds)
    seconds = settings.sync_young_interval_seconds if young else settings.sync_interval_seconds
    return now + timedelta(seconds=seconds)


class StatusSync:
    """Reads due filings from LAPOR! and records what changed."""

    def __init__(
        self,
        engine: AsyncEngine,
        client: LaporClient,
        settings: LaporSettings,
        sla: SlaSettings,
        metrics: Metrics,
        *,
        clock: Clock,
        paused: Callable[[], bool] = lambda: False,
    ) -> None:
        self.engine = engine
        self.client = client
        self.settings = settings
        self.calendar = calendar_from(sla)
        self.rules = rules_from(sla)
        self.metrics = metrics
        self.clock = clock
        self.paused = paused
        self._slots = asyncio.Semaphore(max(1, settings.concurrency // 2))

    async def run_once(self) -> int:
        """Read every filing due now (up to a batch); how many were read."""
        if self.paused():  # the filing stage's breaker is open: LAPOR! is down
            return 0
        now = self.clock()
        async with self.engine.connect() as conn:
            due = (
                (
                    await conn.execute(
                        select(lapor_tracking)
                        .where(
                            lapor_tracking.c.closed_at.is_(None),
                            lapor_tracking.c.next_sync_at <= now,
                        )
                        .order_by(lapor_tracking.c.next_sync_at)
                        .limit(self.settings.sync_batch)
                    )
                )
                .mappings()
                .all()
            )
        await asyncio.gather(*(self._sync(dict(row)) for row in due))
        return len(due)

    async def _sync(self, row: dict[str, Any]) -> None:
        lapor_id = row["lapor_id"]
        try:
            async with self._slots:
                detail = await self.client.complaint_status(lapor_id)
                followups = await self.client.followups(lapor_id)
        except LaporError as err:
            self.metrics.lapor_sync.labels(type(err).__name__).inc()
            await self._failed(row, err)
            return
        self.metrics.lapor_sync.labels("ok").inc()
        async with self.engine.begin() as conn:
            await self._record(conn, row, detail, followups_list=followup_entries(followups))

    async def _failed(self, row: dict[str, Any], err: LaporError) -> None:
        now = self.clock()
        if row["sync_failures"] == 0:
            log.warning("status of complaint %d unreadable (%s)", row["complaint_id"], err)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(lapor_tracking)
                .where(lapor_tracking.c.complaint_id == row["complaint_id"])
                .values(
                    sync_failures=lapor_tracking.c.sync_failures + 1,
                    next_sync_at=now + timedelta(seconds=self.settings.sync_retry_seconds),
                )
            )

    async def _record(
        self,
        conn: AsyncConnection,
        row: dict[str, Any],
        detail: dict[str, Any],
        *,
        followups_list: list[FollowupEntry],
    ) -> None:
        now = self.clock()
        complaint_id, lapor_id = row["complaint_id"], row["lapor_id"]
        insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
        history = status_entries(detail)
        if history:
            await conn.execute(
                insert(lapor_status_history).on_conflict_do_nothing(
                    index_elements=["complaint_id", "status_code", "at"]
                ),
                [
                    {
                        "complaint_id": complaint_id,
                        "lapor_id": lapor_id,
                        "status_code": entry.code,
                        "status_name": entry.name,
                        "at": entry.at,
                        "seen_at": now,
                    }
                    for entry in history
                ],
            )
        if followups_list:
            await conn.execute(
                insert(lapor_followups).on_conflict_do_nothing(
                    index_elements=["complaint_id", "followup_key"]
                ),
                [
                    {
                        "complaint_id": complaint_id,
                        "lapor_id": lapor_id,
                        "followup_key": entry.key,
                        "created_at": entry.at,
                        "author": entry.author,
                        "content": entry.content,
                        "seen_at": now,
                    }
                    for entry in followups_list
                ],
            )
        values: dict[str, Any] = {
            "status_code": _text(detail.get("status_code")),
            "status_name": _text(detail.get("status_name")),
            "last_synced_at": now,
            "sync_failures": 0,
            "next_sync_at": next_sync(row["filed_at"], now, self.settings),
        }
        # Any status after the first means LAPOR! has verified and forwarded it: the agency's
        # days count from then (a coordinator's forward set it already).
        if row["forwarded_at"] is None and len(history) >= 2:
            values["forwarded_at"] = history[1].at
            values["due_at"] = followup_due(
                self.calendar, self.rules, row["classification"], row["filed_at"], history[1].at
            )
        if row["first_response_at"] is None and followups_list:
            values["first_response_at"] = min(entry.at for entry in followups_list)
        closed = is_closed(
            values["status_code"], values["status_name"], self.settings.closed_statuses
        )
        if closed:
            values["closed_at"] = now
        await conn.execute(
            update(lapor_tracking)
            .where(lapor_tracking.c.complaint_id == complaint_id)
            .values(**values)
        )
        if closed and await _close(conn, complaint_id, now):
            self.metrics.lapor_closed.inc()
            log.info("complaint %d closed in LAPOR!", complaint_id)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:128]


async def _close(conn: AsyncConnection, complaint_id: int, now: datetime) -> bool:
    """EXPORTED -> CLOSED (a complaint re-routed meanwhile is left alone)."""
    check_transition(State.EXPORTED, State.CLOSED)
    moved = await conn.execute(
        update(complaints)
        .where(complaints.c.id == complaint_id, complaints.c.state == State.EXPORTED.value)
        .values(state=State.CLOSED.value, state_changed_at=now)
    )
    if moved.rowcount != 1:
        return False
    await conn.execute(
        state_history.insert().values(
            complaint_id=complaint_id,
            from_state=State.EXPORTED.value,
            to_state=State.CLOSED.value,
            at=now,
            actor=ACTOR,
        )
    )
    return True
