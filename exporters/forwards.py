"""Re-routing a filed complaint: LAPOR!'s forward ("not our authority") call, exactly once.

A forward row is committed as `sending` before the call. A row found `sending` or `unknown` later
is settled by reading the complaint's detail: if LAPOR! has it with the new institution the
forward happened; if not, it did not, and the call is made again. The detail read is always safe.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muara.exporters.breaker import CircuitBreaker
from muara.exporters.lapor.client import LaporClient
from muara.exporters.lapor.errors import (
    LaporError,
    LaporOutcomeUnknown,
    LaporRejected,
)
from muara.exporters.outcomes import Kind, Outcome
from muara.exporters.retry import RetryPolicy
from muara.exporters.settings import LaporSettings
from muara.store.lapor_tables import lapor_forwards
from muara.store.records import Clock, ComplaintRecord

log = logging.getLogger(__name__)


class ForwardState(enum.StrEnum):
    """Where one forward call stands."""

    SENDING = "sending"
    ACCEPTED = "accepted"
    UNKNOWN = "unknown"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ForwardRow:
    """The latest forward of a complaint."""

    id: int
    complaint_id: int
    to_institution_id: int
    state: ForwardState
    attempts: int
    updated_at: datetime


class Forwards:
    """Reads and writes of `lapor_forwards`, each in a transaction of its own."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def latest(self, ids: Sequence[int]) -> dict[int, ForwardRow]:
        """The newest forward row of each complaint."""
        if not ids:
            return {}
        newest = (
            select(func.max(lapor_forwards.c.id))
            .where(lapor_forwards.c.complaint_id.in_(list(ids)))
            .group_by(lapor_forwards.c.complaint_id)
        )
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(lapor_forwards).where(lapor_forwards.c.id.in_(newest)))
            return {
                int(row.complaint_id): ForwardRow(
                    int(row.id),
                    int(row.complaint_id),
                    int(row.to_institution_id),
                    ForwardState(row.state),
                    row.attempts,
                    row.updated_at,
                )
                for row in rows
            }

    async def start(
        self,
        complaint_id: int,
        lapor_id: str,
        from_institution: int,
        to_institution: int,
        previous: ForwardRow | None,
    ) -> ForwardRow:
        """Commit `sending` before the call; a retry of the same forward counts an attempt."""
        now = self.clock()
        async with self.engine.begin() as conn:
            if previous is not None and previous.to_institution_id == to_institution:
                await conn.execute(
                    update(lapor_forwards)
                    .where(lapor_forwards.c.id == previous.id)
                    .values(
                        state=ForwardState.SENDING.value,
                        attempts=lapor_forwards.c.attempts + 1,
                        updated_at=now,
                    )
                )
                row_id, attempts = previous.id, previous.attempts + 1
            else:
                inserted = await conn.execute(
                    lapor_forwards.insert()
                    .values(
                        complaint_id=complaint_id,
                        lapor_id=lapor_id,
                        from_institution_id=from_institution,
                        to_institution_id=to_institution,
                        state=ForwardState.SENDING.value,
                        attempts=1,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(lapor_forwards.c.id)
                )
                row_id, attempts = int(inserted.scalar_one()), 1
        return ForwardRow(row_id, complaint_id, to_institution, ForwardState.SENDING, attempts, now)

    async def record(
        self, row_id: int, state: ForwardState, error: LaporError | None = None, **extra: Any
    ) -> None:
        """Write a forward's outcome."""
        async with self.engine.begin() as conn:
            await record_forward(conn, row_id, state, self.clock(), error, **extra)


async def record_forward(
    conn: AsyncConnection,
    row_id: int,
    state: ForwardState,
    now: datetime,
    error: LaporError | None = None,
    **extra: Any,
) -> None:
    """Write a forward's outcome on `conn`."""
    await conn.execute(
        update(lapor_forwards)
        .where(lapor_forwards.c.id == row_id)
        .values(
            state=state.value,
            last_error_class=None if error is None else type(error).__name__,
            last_error=None if error is None else str(error),
            updated_at=now,
            **extra,
        )
    )


Call = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]


class ForwardStep:
    """Settles one re-routed complaint; returns the outcome the stage commits."""

    def __init__(
        self,
        forwards: Forwards,
        client: LaporClient,
        settings: LaporSettings,
        breaker: CircuitBreaker,
        retry: RetryPolicy,
        call: Call,
        clock: Clock,
    ) -> None:
        self.forwards = forwards
        self.client = client
        self.settings = settings
        self.breaker = breaker
        self.retry = retry
        self.call = call
        self.clock = clock

    async def run(
        self,
        record: ComplaintRecord,
        lapor_id: str,
        from_institution: int,
        to_institution: int,
        previous: ForwardRow | None,
    ) -> Outcome:
        """Forward unless it already happened; never call twice for an unknown outcome."""
        now = self.clock()
        done = Outcome(
            record, Kind.EXPORTED, lapor_id=lapor_id, institution_id=to_institution, forwarded=True
        )
        if previous is not None and previous.to_institution_id == to_institution:
            if previous.state is ForwardState.ACCEPTED:
                return done
            if previous.state in (ForwardState.SENDING, ForwardState.UNKNOWN):
                settled = await self._settle(record, lapor_id, to_institution, previous, now)
                if settled is not None:
                    return settled
        if not self.breaker.allow():
            return self._defer(record, self.breaker.reopens_at or now)
        row = await self.forwards.start(
            record.id, lapor_id, from_institution, to_institution, previous
        )
        try:
            await self.call(
                lambda: self.client.forward(lapor_id, to_institution, self.settings.forward_reason)
            )
        except LaporOutcomeUnknown as err:
            self.breaker.failed()
            await self.forwards.record(row.id, ForwardState.UNKNOWN, err)
            return self._defer(
                record, now + timedelta(seconds=self.settings.reconcile_after_seconds)
            )
        except LaporRejected as err:
            self.breaker.succeeded()
            await self.forwards.record(row.id, ForwardState.FAILED, err)
            return self._hold(record, f"LAPOR! refused the forward ({err})", "forward_refused")
        except LaporError as err:
            self.breaker.failed()
            await self.forwards.record(row.id, ForwardState.RETRY, err)
            decision = self.retry.decide(row.attempts, getattr(err, "retry_after", None))
            if not decision.retry:
                return self._hold(
                    record, f"the forward failed {row.attempts} times ({err})", "forward_failed"
                )
            return self._defer(record, now + timedelta(seconds=decision.wait_seconds))
        self.breaker.succeeded()
        await self.forwards.record(row.id, ForwardState.ACCEPTED)
        return done

    async def _settle(
        self,
        record: ComplaintRecord,
        lapor_id: str,
        to_institution: int,
        previous: ForwardRow,
        now: datetime,
    ) -> Outcome | None:
        """Read the detail of a forward whose answer was lost; None: it did not happen."""
        wait = timedelta(seconds=self.settings.reconcile_after_seconds)
        if now - previous.updated_at < wait:
            return self._defer(record, previous.updated_at + wait)
        try:
            detail = await self.call(lambda: self.client.complaint_status(lapor_id))
        except LaporRejected as err:
            return self._hold(
                record,
                f"cannot read the complaint to settle a lost forward ({err})",
                "lookup_failed",
            )
        except LaporError as err:
            if previous.attempts >= self.settings.reconcile_attempts:
                return self._hold(
                    record,
                    f"cannot settle a lost forward: LAPOR! does not answer ({err})",
                    "lookup_failed",
                )
            await self.forwards.record(
                previous.id, ForwardState.UNKNOWN, err, attempts=previous.attempts + 1
            )
            return self._defer(record, now + timedelta(seconds=self.settings.retry_seconds))
        if detail.get("disposition_id") == to_institution:
            await self.forwards.record(previous.id, ForwardState.ACCEPTED)
            return Outcome(
                record,
                Kind.EXPORTED,
                lapor_id=lapor_id,
                institution_id=to_institution,
                forwarded=True,
            )
        return None

    @staticmethod
    def _defer(record: ComplaintRecord, until: datetime) -> Outcome:
        return Outcome(record, Kind.DEFER, until=until)

    @staticmethod
    def _hold(record: ComplaintRecord, reason: str, label: str) -> Outcome:
        return Outcome(record, Kind.HOLD, reason=reason, hold_label=label)
