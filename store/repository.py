"""Every read and write the pipeline makes, each a transaction of its own."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    String,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
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


def dialect_insert(conn: AsyncConnection, table: Table) -> Any:
    """INSERT with ON CONFLICT support for the connection's backend (SQLite or PostgreSQL)."""
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    return dialect.insert(table)


async def insert_raw(
    conn: AsyncConnection,
    raw: RawInput,
    now: datetime,
    error_class: str | None = None,
    reason: str | None = None,
) -> Stored:
    """Keep one raw input (a quarantine record when `error_class` is set), idempotently."""
    insert = (
        dialect_insert(conn, raw_inputs)
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


class Store:
    """The pipeline's view of the database; ingest collectors use it as their `IngestSink`."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    # -- ingest -----------------------------------------------------------------------------

    async def store(self, complaint: NewComplaint, raw: RawInput | None) -> Stored:
        """Store one complaint; the same (channel, source id) again is a no-op, "already known"."""
        return (await self.store_many([(complaint, raw)]))[0]

    async def store_many(
        self, items: Sequence[tuple[NewComplaint, RawInput | None]]
    ) -> list[Stored]:
        """Store complaints in one transaction; returns after the commit.

        Set-based and insert-first (INSERT … ON CONFLICT DO NOTHING RETURNING): new complaints
        cost no look-up at all; only those already known are looked up afterwards. Ingest is
        the first stage of every complaint, so its cost is paid N times.
        """
        if not items:
            return []
        unique: dict[tuple[str, str], tuple[NewComplaint, RawInput | None]] = {}
        for complaint, raw in items:
            unique.setdefault((complaint.channel, complaint.source_id), (complaint, raw))
        async with self.engine.begin() as conn:
            created = await self._insert_complaints(conn, list(unique.values()))
            missing = [key for key in unique if key not in created]
            known = await self._lookup(conn, complaints, "source_id", missing) if missing else {}
        results = []
        for complaint, _ in items:
            key = (complaint.channel, complaint.source_id)
            if key in created:
                # The first occurrence was stored; a repeat within the same call is known.
                results.append(Stored(created.pop(key), StoreOutcome.STORED))
                known[key] = results[-1].id
            else:
                results.append(Stored(known[key], StoreOutcome.ALREADY_KNOWN))
        return results

    async def _lookup(
        self, conn: AsyncConnection, table: Table, column: str, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """Ids of rows by (channel, <column>), probing the composite unique index per key.

        On PostgreSQL a join with unnest()ed arrays, not `IN (…)`: with the statistics of a
        freshly filling table the planner would otherwise scan the whole channel per query.
        """
        key_column = table.c[column]
        query: Any
        if is_sqlite(self.engine):
            condition = tuple_(table.c.channel, key_column).in_(sorted(keys))
            query = select(table.c.channel, key_column, table.c.id).where(condition)
        else:
            channels = bindparam("k_channels", [k[0] for k in keys], ARRAY(String))
            values = bindparam("k_values", [k[1] for k in keys], ARRAY(String))
            wanted = select(
                func.unnest(channels).label("channel"), func.unnest(values).label("value")
            ).subquery("wanted")
            query = select(table.c.channel, key_column, table.c.id).join(
                wanted, and_(table.c.channel == wanted.c.channel, key_column == wanted.c.value)
            )
        rows = await conn.execute(query)
        return {(channel, key): id_ for channel, key, id_ in rows}

    async def _insert_complaints(
        self, conn: AsyncConnection, items: list[tuple[NewComplaint, RawInput | None]]
    ) -> dict[tuple[str, str], int]:
        now = self.clock()
        raws = [raw for _, raw in items if raw is not None]
        raw_ids = await self._insert_raws(conn, raws, now) if raws else {}
        rows = []
        for complaint, raw in items:
            reporter = complaint.reporter
            rows.append(
                {
                    "channel": complaint.channel,
                    "source_id": complaint.source_id,
                    "received_at": complaint.received_at,
                    "ingested_at": now,
                    "state": (
                        State.DISCARDED.value if complaint.discard_reason else State.NEW.value
                    ),
                    "discard_reason": complaint.discard_reason,
                    "state_changed_at": now,
                    "subject": complaint.subject,
                    "text": complaint.text,
                    "reporter_name": reporter.name,
                    "reporter_contact": reporter.contact,
                    "is_anonymous": reporter.is_anonymous,
                    "is_secret": reporter.is_secret,
                    "district": complaint.district,
                    "subdistrict": complaint.subdistrict,
                    "attachments": [dataclasses.asdict(a) for a in complaint.attachments],
                    "extra": complaint.extra,
                    "raw_input_id": (
                        raw_ids.get((raw.channel, raw.source_ref)) if raw is not None else None
                    ),
                }
            )
        # A concurrent writer may have stored some meanwhile: those are skipped and
        # RETURNING names exactly the rows this call created (executemany "insertmanyvalues").
        inserted = await conn.execute(
            dialect_insert(conn, complaints)
            .on_conflict_do_nothing(index_elements=["channel", "source_id"])
            .returning(complaints.c.id, complaints.c.channel, complaints.c.source_id),
            rows,
        )
        created = {(channel, source_id): id_ for id_, channel, source_id in inserted}
        discarded = {(c.channel, c.source_id) for c, _ in items if c.discard_reason}
        if created:
            await conn.execute(
                state_history.insert(),
                [
                    {
                        "complaint_id": id_,
                        "from_state": None,
                        "to_state": (
                            State.DISCARDED.value if key in discarded else State.NEW.value
                        ),
                        "at": now,
                        "actor": f"ingest:{key[0]}",
                    }
                    for key, id_ in created.items()
                ],
            )
        return created

    async def _insert_raws(
        self, conn: AsyncConnection, raws: Sequence[RawInput], now: datetime
    ) -> dict[tuple[str, str], int]:
        inserted = await conn.execute(
            dialect_insert(conn, raw_inputs)
            .on_conflict_do_nothing(index_elements=["channel", "source_ref"])
            .returning(raw_inputs.c.id, raw_inputs.c.channel, raw_inputs.c.source_ref),
            [
                {
                    "channel": raw.channel,
                    "source_ref": raw.source_ref,
                    "content": raw.content,
                    "content_type": raw.content_type,
                    "received_at": now,
                }
                for raw in raws
            ],
        )
        found = {(channel, ref): id_ for id_, channel, ref in inserted}
        missing = sorted({(raw.channel, raw.source_ref) for raw in raws} - found.keys())
        if missing:
            found.update(await self._lookup(conn, raw_inputs, "source_ref", missing))
        return found

    async def quarantine(self, raw: RawInput, error_class: str, reason: str) -> Stored:
        """Keep unparseable input with its error; the same input again is "already known"."""
        async with self.engine.begin() as conn:
            return await insert_raw(conn, raw, self.clock(), error_class, reason)

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
        now = self.clock()
        async with self.engine.begin() as conn:
            committed = await self._move(conn, owner, changes, now)
            done = [change for change in changes if change.complaint_id in committed]
            await self._record(conn, done, now)
            if also is not None:
                await also(conn, committed)
        lost = [change.complaint_id for change in changes if change.complaint_id not in committed]
        if lost:
            log.warning(
                "lease lost on %d complaint(s), their work is left to the new holder", len(lost)
            )
        return lost

    async def _move(
        self, conn: AsyncConnection, owner: str, changes: Sequence[Change], now: datetime
    ) -> set[int]:
        """Move each group of complaints in one fenced UPDATE; the ids that were still ours."""
        groups: dict[tuple[State, State], list[int]] = {}
        for change in changes:
            groups.setdefault((change.from_state, change.to_state), []).append(change.complaint_id)
        committed: set[int] = set()
        for (source, target), ids in groups.items():
            moved = await conn.execute(
                update(complaints)
                .where(
                    complaints.c.id.in_(ids),
                    complaints.c.state == source.value,
                    complaints.c.lease_owner == owner,
                )
                .values(
                    state=target.value,
                    state_changed_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                    not_before=None,
                )
                .returning(complaints.c.id)
            )
            committed.update(moved.scalars())
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for change in changes:
            if change.values and change.complaint_id in committed:
                columns = tuple(sorted(change.values))
                by_columns.setdefault(columns, []).append(
                    {"b_id": change.complaint_id}
                    | {f"v_{name}": value for name, value in change.values.items()}
                )
        for columns, params in by_columns.items():
            await conn.execute(
                update(complaints)
                .where(complaints.c.id == bindparam("b_id"))
                .values({name: bindparam(f"v_{name}") for name in columns}),
                params,
            )
        return committed

    async def _record(self, conn: AsyncConnection, done: Sequence[Change], now: datetime) -> None:
        """History, suggestions and decisions of the committed changes, a statement each."""
        if not done:
            return
        await conn.execute(
            state_history.insert(),
            [
                {
                    "complaint_id": c.complaint_id,
                    "from_state": c.from_state.value,
                    "to_state": c.to_state.value,
                    "at": now,
                    "actor": c.actor,
                }
                for c in done
            ],
        )
        found = [(c.complaint_id, c.suggestion) for c in done if c.suggestion is not None]
        if found:
            await conn.execute(
                suggestions.insert(),
                [
                    {
                        "complaint_id": complaint_id,
                        "agency": s.agency,
                        "confidence": s.confidence,
                        "top": [list(pair) for pair in s.top],
                        "model_version": s.model_version,
                        "created_at": now,
                    }
                    for complaint_id, s in found
                ],
            )
        decided = [(c.complaint_id, c.decision) for c in done if c.decision is not None]
        if decided:
            await conn.execute(
                decisions.insert(),
                [
                    {
                        "complaint_id": complaint_id,
                        "target_state": d.target.value,
                        "agency": d.agency,
                        "mode": d.mode.value,
                        "decided_by": d.decided_by,
                        "reason": d.reason,
                        "created_at": now,
                    }
                    for complaint_id, d in decided
                ],
            )

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
