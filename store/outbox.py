"""The outbox table: one row per complaint and target, written before the call is made."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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
                select(
                    exports.c.complaint_id,
                    exports.c.state,
                    exports.c.attempts,
                    exports.c.external_id,
                ).where(exports.c.target == self.target, exports.c.complaint_id.in_(list(ids)))
            )
            return {
                row.complaint_id: OutboxRow(
                    row.complaint_id, ExportState(row.state), row.attempts, row.external_id
                )
                for row in result
            }

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

    async def record_accepted(self, conn: AsyncConnection, accepted: dict[int, str]) -> None:
        """Mark filings accepted with the target's ids, in the caller's transaction."""
        if not accepted:
            return
        await conn.execute(
            update(exports)
            .where(
                exports.c.target == self.target,
                exports.c.complaint_id == bindparam("b_complaint_id"),
            )
            .values(
                state=ExportState.ACCEPTED.value,
                external_id=bindparam("b_external_id"),
                last_error_class=None,
                last_error=None,
                next_attempt_at=None,
                updated_at=self.clock(),
            ),
            [
                {"b_complaint_id": complaint_id, "b_external_id": external_id}
                for complaint_id, external_id in accepted.items()
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
    ) -> None:
        """Write an attempt's outcome on `conn` (the caller's transaction)."""
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
            )

    async def institution_ids(self) -> dict[str, int]:
        """Agency code -> LAPOR! institution id, as last synchronised into the store."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(agencies.c.code, agencies.c.lapor_institution_id).where(
                    agencies.c.lapor_institution_id.is_not(None)
                )
            )
            return {row.code: int(row.lapor_institution_id) for row in result}
