"""The outbox table: one row per complaint and target, written before the call is made."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muara.store.records import Clock
from muara.store.tables import agencies, exports


class ExportState(enum.StrEnum):
    """Where one filing attempt stands."""

    SENDING = "sending"  # written before the call; still here after a crash = outcome unknown
    RETRY = "retry"  # the target certainly did not take it; try again later
    ACCEPTED = "accepted"
    UNKNOWN = "unknown"  # may or may not have been filed: reconcile, never blindly resend
    FAILED = "failed"  # dead letter


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """The outbox's memory of one complaint's filing to one target."""

    complaint_id: int
    state: ExportState
    attempts: int
    external_id: str | None
    institution_id: int | None = None
    updated_at: datetime | None = None
    lookups: int = 0
    attachment_ids: tuple[int, ...] = ()
    last_error_class: str | None = None
    evidence: dict[str, Any] | None = None

    @property
    def is_accepted(self) -> bool:
        """The target has it."""
        return self.state is ExportState.ACCEPTED


@dataclass(frozen=True, slots=True)
class Acceptance:
    """A filing the target took: its id there, where it went, the attachments it carries."""

    external_id: str
    institution_id: int | None = None
    attachment_ids: tuple[int, ...] = field(default=())


_ROW_COLUMNS = (
    exports.c.complaint_id,
    exports.c.state,
    exports.c.attempts,
    exports.c.external_id,
    exports.c.institution_id,
    exports.c.updated_at,
    exports.c.lookups,
    exports.c.attachment_ids,
    exports.c.last_error_class,
    exports.c.evidence,
)


def _row(row: Any) -> OutboxRow:
    return OutboxRow(
        row.complaint_id,
        ExportState(row.state),
        row.attempts,
        row.external_id,
        None if row.institution_id is None else int(row.institution_id),
        row.updated_at,
        row.lookups or 0,
        tuple(row.attachment_ids or ()),
        row.last_error_class,
        row.evidence,
    )


class Outbox:
    """Reads and writes of the `exports` table; stages call it inside their transactions."""

    def __init__(self, engine: AsyncEngine, target: str, *, clock: Clock) -> None:
        self.engine = engine
        self.target = target
        self.clock = clock

    async def rows(self, ids: Sequence[int]) -> dict[int, OutboxRow]:
        """The existing outbox rows of these complaints."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(*_ROW_COLUMNS).where(
                    exports.c.target == self.target, exports.c.complaint_id.in_(list(ids))
                )
            )
            return {row.complaint_id: _row(row) for row in result}

    async def listing(
        self, states: Sequence[ExportState] | None = None, limit: int = 1000
    ) -> list[OutboxRow]:
        """Rows of this target (in these states), oldest change first: for operators."""
        query = select(*_ROW_COLUMNS).where(exports.c.target == self.target)
        if states is not None:
            query = query.where(exports.c.state.in_([state.value for state in states]))
        async with self.engine.connect() as conn:
            result = await conn.execute(query.order_by(exports.c.updated_at).limit(limit))
            return [_row(row) for row in result]

    async def mark_sending(self, known: dict[int, OutboxRow], ids: Sequence[int]) -> None:
        """Record, and commit, that a call is about to be made (DESIGN.md invariant 4)."""
        if not ids:
            return
        now = self.clock()
        again = [complaint_id for complaint_id in ids if complaint_id in known]
        first = [complaint_id for complaint_id in ids if complaint_id not in known]
        async with self.engine.begin() as conn:
            if again:
                await conn.execute(
                    update(exports)
                    .where(exports.c.target == self.target, exports.c.complaint_id.in_(again))
                    .values(
                        state=ExportState.SENDING.value,
                        attempts=exports.c.attempts + 1,
                        updated_at=now,
                    )
                )
            if first:
                await conn.execute(
                    exports.insert(),
                    [
                        {
                            "complaint_id": complaint_id,
                            "target": self.target,
                            "state": ExportState.SENDING.value,
                            "attempts": 1,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for complaint_id in first
                    ],
                )

    async def record_accepted(
        self, conn: AsyncConnection, accepted: Mapping[int, str | Acceptance]
    ) -> None:
        """Mark filings accepted with the target's ids, in the caller's transaction."""
        if not accepted:
            return
        full = {
            complaint_id: value if isinstance(value, Acceptance) else Acceptance(value)
            for complaint_id, value in accepted.items()
        }
        await conn.execute(
            update(exports)
            .where(
                exports.c.target == self.target,
                exports.c.complaint_id == bindparam("b_complaint_id"),
            )
            .values(
                state=ExportState.ACCEPTED.value,
                external_id=bindparam("b_external_id"),
                institution_id=bindparam("b_institution_id"),
                attachment_ids=bindparam("b_attachment_ids"),
                last_error_class=None,
                last_error=None,
                next_attempt_at=None,
                evidence=None,
                lookups=0,
                updated_at=self.clock(),
            ),
            [
                {
                    "b_complaint_id": complaint_id,
                    "b_external_id": value.external_id,
                    "b_institution_id": value.institution_id,
                    "b_attachment_ids": list(value.attachment_ids),
                }
                for complaint_id, value in full.items()
            ],
        )

    async def record(
        self,
        conn: AsyncConnection,
        complaint_id: int,
        state: ExportState,
        *,
        external_id: str | None = None,
        error_class: str | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        **extra: Any,
    ) -> None:
        """Write an attempt's outcome on `conn` (the caller's transaction).

        `extra` sets further columns (`evidence`, `lookups`, `attachment_ids`) when given.
        """
        await conn.execute(
            update(exports)
            .where(exports.c.complaint_id == complaint_id, exports.c.target == self.target)
            .values(
                state=state.value,
                external_id=external_id,
                last_error_class=error_class,
                last_error=error,
                next_attempt_at=next_attempt_at,
                updated_at=self.clock(),
                **extra,
            )
        )

    async def record_now(
        self,
        complaint_id: int,
        state: ExportState,
        *,
        error_class: str,
        error: str,
        next_attempt_at: datetime | None = None,
        **extra: Any,
    ) -> None:
        """Record a failed or held attempt in a transaction of its own."""
        async with self.engine.begin() as conn:
            await self.record(
                conn,
                complaint_id,
                state,
                error_class=error_class,
                error=error,
                next_attempt_at=next_attempt_at,
                **extra,
            )

    async def reset(
        self, conn: AsyncConnection, ids: Sequence[int], state: ExportState, **values: Any
    ) -> list[int]:
        """Put rows back in `state` for an operator (requeue, resolve); the ids that had a row."""
        if not ids:
            return []
        result = await conn.execute(
            update(exports)
            .where(exports.c.target == self.target, exports.c.complaint_id.in_(list(ids)))
            .values(state=state.value, next_attempt_at=None, updated_at=self.clock(), **values)
            .returning(exports.c.complaint_id)
        )
        return [int(ident) for ident in result.scalars()]

    async def institution_ids(self) -> dict[str, int]:
        """Agency code -> LAPOR! institution id, as last synchronised into the store."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(agencies.c.code, agencies.c.lapor_institution_id).where(
                    agencies.c.lapor_institution_id.is_not(None)
                )
            )
            return {row.code: int(row.lapor_institution_id) for row in result}
