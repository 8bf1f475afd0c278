"""Every read and write the pipeline makes, each a transaction of its own."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, and_, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muara.domain import NewComplaint, RawInput, State, check_transition
from muara.ingest.base import Stored, StoreOutcome
from muara.store.engine import is_sqlite
from muara.store.records import (
    Change,
    Clock,
    ComplaintRecord,
    StateCount,
    StatusReport,
    utc_now,
)
from muara.store.tables import (
    complaints,
    decisions,
    raw_inputs,
    state_history,
    suggestions,
)

log = logging.getLogger(__name__)

_RECORD_COLUMNS = [
    complaints.c[name] for name in (f.name for f in dataclasses.fields(ComplaintRecord))
]


class LeaseLostError(RuntimeError):
    """A worker tried to commit work on a complaint whose lease it no longer holds."""


class Store:
    """The pipeline's view of the database; ingest collectors use it as their `IngestSink`."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    # -- ingest -----------------------------------------------------------------------------

    def _insert(self, table: Any) -> Any:
        dialect = sqlite if is_sqlite(self.engine) else postgresql
        return dialect.insert(table)

    async def store(self, complaint: NewComplaint, raw: RawInput | None) -> Stored:
        """Store one complaint; the same (channel, source id) again is a no-op, "already known"."""
        return (await self.store_many([(complaint, raw)]))[0]

    async def store_many(
        self, items: Sequence[tuple[NewComplaint, RawInput | None]]
    ) -> list[Stored]:
        """Store complaints in one transaction; returns after the commit."""
        async with self.engine.begin() as conn:
            return [await self._store_one(conn, complaint, raw) for complaint, raw in items]

    async def _store_one(
        self, conn: AsyncConnection, complaint: NewComplaint, raw: RawInput | None
    ) -> Stored:
        existing = await conn.scalar(
            select(complaints.c.id).where(
                complaints.c.channel == complaint.channel,
                complaints.c.source_id == complaint.source_id,
            )
        )
        if existing is not None:
            return Stored(existing, StoreOutcome.ALREADY_KNOWN)
        now = self.clock()
        raw_id = None
        if raw is not None:
            raw_id = (await self._insert_raw(conn, raw, None, None)).id
        reporter = complaint.reporter
        insert: Insert = (
            self._insert(complaints)
            .values(
                channel=complaint.channel,
                source_id=complaint.source_id,
                received_at=complaint.received_at,
                ingested_at=now,
                state=State.NEW.value,
                state_changed_at=now,
                subject=complaint.subject,
                text=complaint.text,
                reporter_name=reporter.name,
                reporter_contact=reporter.contact,
                is_anonymous=reporter.is_anonymous,
                is_secret=reporter.is_secret,
                district=complaint.district,
                subdistrict=complaint.subdistrict,
                attachments=[dataclasses.asdict(a) for a in complaint.attachments],
                extra=complaint.extra,
                raw_input_id=raw_id,
            )
            .on_conflict_do_nothing(index_elements=["channel", "source_id"])
            .returning(complaints.c.id)
        )
        new_id = await conn.scalar(insert)
        if new_id is None:  # another writer stored it between our look-up and insert
            found = await conn.scalar(
                select(complaints.c.id).where(
                    complaints.c.channel == complaint.channel,
                    complaints.c.source_id == complaint.source_id,
                )
            )
            assert found is not None
            return Stored(found, StoreOutcome.ALREADY_KNOWN)
        await conn.execute(
            state_history.insert().values(
                complaint_id=new_id,
                from_state=None,
                to_state=State.NEW.value,
                at=now,
                actor=f"ingest:{complaint.channel}",
            )
        )
        return Stored(new_id, StoreOutcome.STORED)

    async def quarantine(self, raw: RawInput, error_class: str, reason: str) -> Stored:
        """Keep unparseable input with its error; the same input again is "already known"."""
        async with self.engine.begin() as conn:
            return await self._insert_raw(conn, raw, error_class, reason)

    async def _insert_raw(
        self, conn: AsyncConnection, raw: RawInput, error_class: str | None, reason: str | None
    ) -> Stored:
        now = self.clock()
        insert: Insert = (
            self._insert(raw_inputs)
            .values(
                channel=raw.channel,
                source_ref=raw.source_ref,
                content=raw.content,
                content_type=raw.content_type,
                received_at=now,
                quarantined_at=now if error_class else None,
                error_class=error_class,
                error=reason,
            )
            .on_conflict_do_nothing(index_elements=["channel", "source_ref"])
            .returning(raw_inputs.c.id)
        )
        new_id = await conn.scalar(insert)
        if new_id is not None:
            return Stored(new_id, StoreOutcome.STORED)
        found = await conn.scalar(
            select(raw_inputs.c.id).where(
                raw_inputs.c.channel == raw.channel, raw_inputs.c.source_ref == raw.source_ref
            )
        )
        assert found is not None
        return Stored(found, StoreOutcome.ALREADY_KNOWN)

    # -- stage work ---------------------------------------------------------------------------

    def _claimable(self, state: State) -> Any:
        now = self.clock()
        return and_(
            complaints.c.state == state.value,
            complaints.c.held_reason.is_(None),
            or_(complaints.c.lease_expires_at.is_(None), complaints.c.lease_expires_at < now),
            or_(complaints.c.not_before.is_(None), complaints.c.not_before <= now),
        )

    async def claim(
        self, state: State, *, owner: str, limit: int, lease_seconds: float
    ) -> list[ComplaintRecord]:
        """Lease up to `limit` complaints in `state` to `owner`; expired leases are fair game.

        PostgreSQL skips rows another worker is claiming (`FOR UPDATE SKIP LOCKED`); SQLite
        serialises writers, so the single UPDATE … WHERE id IN (…) is atomic there.
        """
        expires = self.clock() + timedelta(seconds=lease_seconds)
        candidates = (
            select(complaints.c.id)
            .where(self._claimable(state))
            .order_by(complaints.c.id)
            .limit(limit)
        )
        statement = update(complaints).values(lease_owner=owner, lease_expires_at=expires)
        if is_sqlite(self.engine):
            statement = statement.where(
                complaints.c.id.in_(candidates.scalar_subquery()), self._claimable(state)
            )
        else:
            # A CTE, not `IN (subquery)`: PostgreSQL may re-run a subquery per outer row and so
            # lease more than `limit` rows; a locking CTE is evaluated exactly once.
            locked = candidates.with_for_update(skip_locked=True).cte("claimable")
            statement = statement.where(complaints.c.id == locked.c.id)
        statement = statement.returning(*_RECORD_COLUMNS)
        async with self.engine.begin() as conn:
            rows = (await conn.execute(statement)).mappings().all()
        records = [
            ComplaintRecord(**{**row, "state": State(row["state"]), "extra": row["extra"] or {}})
            for row in rows
        ]
        records.sort(key=lambda record: record.id)
        return records

    async def release(self, owner: str, ids: Sequence[int]) -> None:
        """Give leases back (clean shutdown) so another worker need not wait for them to expire."""
        await self._release_with(owner, ids)

    async def apply(
        self,
        owner: str,
        changes: Sequence[Change],
        *,
        also: Callable[[AsyncConnection, set[int]], Awaitable[None]] | None = None,
    ) -> list[int]:
        """Commit state changes in one transaction; returns the ids whose lease was lost.

        `also` runs in the same transaction with the ids whose change was committed, so a
        stage's own records (the outbox) can never disagree with the complaint's state.
        """
        for change in changes:
            check_transition(change.from_state, change.to_state)
        lost: list[int] = []
        now = self.clock()
        async with self.engine.begin() as conn:
            for change in changes:
                if not await self._apply_one(conn, owner, change, now):
                    lost.append(change.complaint_id)
            if also is not None:
                await also(conn, {c.complaint_id for c in changes} - set(lost))
        if lost:
            log.warning(
                "lease lost on %d complaint(s), their work is left to the new holder", len(lost)
            )
        return lost

    async def _apply_one(
        self, conn: AsyncConnection, owner: str, change: Change, now: datetime
    ) -> bool:
        result = await conn.execute(
            update(complaints)
            .where(
                complaints.c.id == change.complaint_id,
                complaints.c.state == change.from_state.value,
                complaints.c.lease_owner == owner,
            )
            .values(
                state=change.to_state.value,
                state_changed_at=now,
                lease_owner=None,
                lease_expires_at=None,
                not_before=None,
                **change.values,
            )
        )
        if result.rowcount != 1:
            return False
        await conn.execute(
            state_history.insert().values(
                complaint_id=change.complaint_id,
                from_state=change.from_state.value,
                to_state=change.to_state.value,
                at=now,
                actor=change.actor,
            )
        )
        if (suggestion := change.suggestion) is not None:
            await conn.execute(
                suggestions.insert().values(
                    complaint_id=change.complaint_id,
                    agency=suggestion.agency,
                    confidence=suggestion.confidence,
                    top=[list(pair) for pair in suggestion.top],
                    model_version=suggestion.model_version,
                    created_at=now,
                )
            )
        if (decision := change.decision) is not None:
            await conn.execute(
                decisions.insert().values(
                    complaint_id=change.complaint_id,
                    target_state=decision.target.value,
                    agency=decision.agency,
                    mode=decision.mode.value,
                    decided_by=decision.decided_by,
                    reason=decision.reason,
                    created_at=now,
                )
            )
        return True

    async def defer(self, owner: str, ids: Sequence[int], until: datetime) -> None:
        """Release leases and keep the complaints out of every stage until `until` (a retry)."""
        await self._release_with(owner, ids, not_before=until)

    async def hold(self, owner: str, ids: Sequence[int], reason: str) -> None:
        """Release leases and hold the complaints for an operator, with a reason free of PII."""
        await self._release_with(owner, ids, held_reason=reason)

    async def _release_with(self, owner: str, ids: Sequence[int], **values: Any) -> None:
        if not ids:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                update(complaints)
                .where(complaints.c.id.in_(list(ids)), complaints.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None, **values)
            )

    async def latest_suggestions(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The newest suggestion of each complaint, for the router."""
        if not ids:
            return {}
        newest = (
            select(func.max(suggestions.c.id))
            .where(suggestions.c.complaint_id.in_(list(ids)))
            .group_by(suggestions.c.complaint_id)
        )
        async with self.engine.connect() as conn:
            rows = (
                (await conn.execute(select(suggestions).where(suggestions.c.id.in_(newest))))
                .mappings()
                .all()
            )
        return {row["complaint_id"]: dict(row) for row in rows}

    # -- status -------------------------------------------------------------------------------

    async def ping(self) -> None:
        """Raise if the store cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def status(self) -> StatusReport:
        """Counts by state and channel, the oldest item per state, quarantine per channel."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        complaints.c.state,
                        complaints.c.channel,
                        func.count(),
                        func.min(complaints.c.received_at),
                    ).group_by(complaints.c.state, complaints.c.channel)
                )
            ).all()
            quarantined = (
                await conn.execute(
                    select(raw_inputs.c.channel, func.count())
                    .where(raw_inputs.c.quarantined_at.is_not(None))
                    .group_by(raw_inputs.c.channel)
                )
            ).all()
            held = await conn.scalar(
                select(func.count()).where(complaints.c.held_reason.is_not(None))
            )
        return StatusReport(
            # min() keeps the column's type, so `oldest` comes back as an aware datetime.
            states=[
                StateCount(state, channel, count, oldest) for state, channel, count, oldest in rows
            ],
            quarantined={channel: count for channel, count in quarantined},
            held=held or 0,
        )
