"""What an operator does about the exporter's dead letters and held complaints (`muara lapor`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muara.domain import State, check_transition
from muara.exporters.filing import TARGET
from muara.store.outbox import ExportState, Outbox
from muara.store.records import Clock
from muara.store.tables import complaints, exports, state_history


class OperatorError(ValueError):
    """The operator's request does not fit the complaint's state."""


@dataclass(frozen=True, slots=True)
class HeldItem:
    """A held complaint with what the exporter knows of it (no personal data)."""

    complaint_id: int
    state: str
    agency: str | None
    reason: str
    outbox_state: str | None
    attempts: int | None
    last_error_class: str | None
    evidence: dict[str, Any] | None
    since: datetime


async def held(engine: AsyncEngine, limit: int = 500) -> list[HeldItem]:
    """Complaints held for an operator, oldest first, with their outbox evidence."""
    joined = complaints.outerjoin(
        exports, and_(exports.c.complaint_id == complaints.c.id, exports.c.target == TARGET)
    )
    query = (
        select(
            complaints.c.id,
            complaints.c.state,
            complaints.c.agency,
            complaints.c.held_reason,
            complaints.c.state_changed_at,
            exports.c.state.label("outbox_state"),
            exports.c.attempts,
            exports.c.last_error_class,
            exports.c.evidence,
        )
        .select_from(joined)
        .where(complaints.c.held_reason.is_not(None))
        .order_by(complaints.c.state_changed_at, complaints.c.id)
        .limit(limit)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        HeldItem(
            int(row.id),
            row.state,
            row.agency,
            row.held_reason,
            row.outbox_state,
            row.attempts,
            row.last_error_class,
            row.evidence,
            row.state_changed_at,
        )
        for row in rows
    ]


async def _move(
    conn: AsyncConnection,
    ids: Sequence[int],
    source: State,
    target: State,
    actor: str,
    now: datetime,
) -> list[int]:
    check_transition(source, target)
    moved = await conn.execute(
        update(complaints)
        .where(complaints.c.id.in_(list(ids)), complaints.c.state == source.value)
        .values(
            state=target.value,
            state_changed_at=now,
            held_reason=None,
            not_before=None,
            lease_owner=None,
            lease_expires_at=None,
        )
        .returning(complaints.c.id)
    )
    done = sorted(int(ident) for ident in moved.scalars())
    if done:
        await conn.execute(
            state_history.insert(),
            [
                {
                    "complaint_id": ident,
                    "from_state": source.value,
                    "to_state": target.value,
                    "at": now,
                    "actor": actor,
                }
                for ident in done
            ],
        )
    return done


async def requeue(
    engine: AsyncEngine, ids: Sequence[int] | None, *, actor: str, clock: Clock
) -> list[int]:
    """Dead letters (EXPORT_FAILED) back to ROUTED with a fresh retry budget; None: all."""
    now = clock()
    async with engine.begin() as conn:
        if ids is None:
            ids = list(
                (
                    await conn.execute(
                        select(complaints.c.id).where(
                            complaints.c.state == State.EXPORT_FAILED.value
                        )
                    )
                ).scalars()
            )
        done = await _move(conn, ids, State.EXPORT_FAILED, State.ROUTED, actor, now)
        outbox = Outbox(engine, TARGET, clock=clock)
        await outbox.reset(conn, done, ExportState.RETRY, attempts=0, lookups=0)
    return done


async def _release(conn: AsyncConnection, complaint_id: int) -> None:
    result = await conn.execute(
        update(complaints)
        .where(complaints.c.id == complaint_id, complaints.c.held_reason.is_not(None))
        .values(held_reason=None, not_before=None)
    )
    if result.rowcount != 1:
        raise OperatorError(f"complaint {complaint_id} is not held")


async def release(engine: AsyncEngine, complaint_id: int) -> None:
    """Let the stage try a held complaint again (e.g. after its agency was mapped)."""
    async with engine.begin() as conn:
        await _release(conn, complaint_id)


async def resolve(
    engine: AsyncEngine,
    complaint_id: int,
    *,
    filed_as: str | None,
    clock: Clock,
) -> None:
    """Settle a held outcome-unknown filing by hand: LAPOR! has it as `filed_as`, or (None) not.

    The export stage then commits EXPORTED with that id, or files it.
    """
    outbox = Outbox(engine, TARGET, clock=clock)
    async with engine.begin() as conn:
        state = await conn.scalar(
            select(exports.c.state).where(
                exports.c.complaint_id == complaint_id, exports.c.target == TARGET
            )
        )
        if state not in (ExportState.UNKNOWN.value, ExportState.SENDING.value):
            raise OperatorError(f"complaint {complaint_id} has no filing of unknown outcome")
        await _release(conn, complaint_id)
        if filed_as is not None:
            await outbox.reset(
                conn, [complaint_id], ExportState.ACCEPTED, external_id=filed_as, lookups=0
            )
        else:
            await outbox.reset(conn, [complaint_id], ExportState.RETRY, lookups=0)


async def reconcile_again(engine: AsyncEngine, ids: Sequence[int] | None) -> list[int]:
    """Release held outcome-unknown complaints so the stage looks them up again; None: all."""
    condition = and_(
        exports.c.target == TARGET,
        exports.c.state == ExportState.UNKNOWN.value,
    )
    if ids is not None:
        condition = and_(condition, exports.c.complaint_id.in_(list(ids)))
    async with engine.begin() as conn:
        found = list(
            (await conn.execute(select(exports.c.complaint_id).where(condition))).scalars()
        )
        if not found:
            return []
        await conn.execute(update(exports).where(condition).values(lookups=0))
        result = await conn.execute(
            update(complaints)
            .where(complaints.c.id.in_(found), complaints.c.held_reason.is_not(None))
            .values(held_reason=None, not_before=None)
            .returning(complaints.c.id)
        )
        return sorted(int(ident) for ident in result.scalars())
