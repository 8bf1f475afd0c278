"""The export stage: files ROUTED complaints into LAPOR! through the outbox, exactly once.

The outbox row is committed as `sending` before the call. Whatever happens next, a later
attempt reads it first: `accepted` means done, `sending` or `unknown` means the call may have
created a complaint, so it is held for reconciliation instead of being sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from muara.config import LaporSettings
from muara.domain import State
from muara.exporters.lapor.client import LaporClient
from muara.exporters.lapor.errors import (
    LaporAuthError,
    LaporError,
    LaporNotSent,
    LaporOutcomeUnknown,
    LaporRejected,
    LaporUnavailable,
)
from muara.exporters.lapor.payload import FilingInput, build_filing_body
from muara.exporters.metrics import Metrics
from muara.exporters.retry import RetryPolicy
from muara.store.outbox import ExportState, Outbox, OutboxRow
from muara.store.records import Change, ComplaintRecord
from muara.store.repository import Store

log = logging.getLogger(__name__)

TARGET = "lapor"
UNKNOWN_OUTCOME_HOLD = (
    "LAPOR! filing outcome unknown (the call may have created a complaint); "
    "reconcile with LAPOR! before filing again"
)


def reference(complaint_id: int) -> str:
    """Our id as it is tagged on the LAPOR! filing, so a filing can be found again."""
    return f"MUARA-{complaint_id}"


def filing_input(record: ComplaintRecord, institution_id: int) -> FilingInput:
    """What the payload builder needs of a stored complaint."""
    return FilingInput(
        complaint_id=record.id,
        title=record.subject or "",
        content=record.text,
        institution_id=institution_id,
        is_anonymous=record.is_anonymous,
        is_secret=record.is_secret,
        date_of_incident=record.received_at,
        reference=reference(record.id),
    )


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call's outcome: the LAPOR! id, or the error."""

    record: ComplaintRecord
    lapor_id: str | None = None
    error: LaporError | None = None


class FilingStage:
    """Claims ROUTED complaints, files them, and commits EXPORTED with LAPOR!'s id."""

    name = "export"
    source_state = State.ROUTED

    def __init__(
        self,
        store: Store,
        client: LaporClient,
        settings: LaporSettings,
        metrics: Metrics,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.settings = settings
        self.metrics = metrics
        self.outbox = Outbox(store.engine, TARGET, clock=store.clock)
        self.retry = retry or RetryPolicy(settings.retry_seconds, settings.max_attempts)
        self._slots = asyncio.Semaphore(settings.concurrency)

    async def _institutions(self) -> dict[str, int]:
        mapping = await self.outbox.institution_ids()
        mapping.update(self.settings.institutions)  # the config file wins over a sync
        return mapping

    async def handle(self, batch: list[ComplaintRecord], owner: str) -> None:
        """File what is safe to file, hold what is not, commit every outcome."""
        known = await self.outbox.rows([record.id for record in batch])
        institutions = await self._institutions()
        to_send: list[tuple[ComplaintRecord, int]] = []
        done: list[Attempt] = []
        for record in batch:
            row = known.get(record.id)
            if row is not None and row.state is ExportState.ACCEPTED:
                done.append(Attempt(record, lapor_id=row.external_id))
            elif row is not None and row.state in {ExportState.SENDING, ExportState.UNKNOWN}:
                await self._hold_unknown(owner, record, row)
            elif (institution := institutions.get(record.agency or "")) is None:
                await self._hold_unmapped(owner, record)
            else:
                to_send.append((record, institution))
        await self.outbox.mark_sending(known, [record.id for record, _ in to_send])
        attempts = await asyncio.gather(*(self._send(r, i) for r, i in to_send))
        await self._commit(owner, done + list(attempts), known)

    async def _send(self, record: ComplaintRecord, institution_id: int) -> Attempt:
        body = build_filing_body(filing_input(record, institution_id), self.settings)
        async with self._slots:
            try:
                return Attempt(record, lapor_id=await self.client.file_complaint(body))
            except LaporError as err:
                return Attempt(record, error=err)

    async def _hold_unknown(self, owner: str, record: ComplaintRecord, row: OutboxRow) -> None:
        if row.state is ExportState.SENDING:
            await self.outbox.record_now(
                record.id,
                ExportState.UNKNOWN,
                error_class="Interrupted",
                error="the process stopped between sending the call and storing its answer",
            )
        await self.store.hold(owner, [record.id], UNKNOWN_OUTCOME_HOLD)
        log.warning("complaint %d held: LAPOR! filing outcome unknown", record.id)

    async def _hold_unmapped(self, owner: str, record: ComplaintRecord) -> None:
        reason = (
            f"agency {record.agency!r} has no LAPOR! institution id: set "
            f"lapor.institutions.{record.agency} or run the institutions sync"
        )
        await self.store.hold(owner, [record.id], reason)
        log.error("complaint %d held: %s", record.id, reason)

    async def _commit(
        self, owner: str, attempts: list[Attempt], known: Mapping[int, OutboxRow]
    ) -> None:
        now = self.store.clock()
        accepted = [a for a in attempts if a.error is None]
        dead: list[Attempt] = []
        for attempt in attempts:
            if attempt.error is None:
                continue
            self.metrics.export_errors.labels(TARGET, type(attempt.error).__name__).inc()
            tries = known[attempt.record.id].attempts + 1 if attempt.record.id in known else 1
            if isinstance(attempt.error, LaporOutcomeUnknown):
                await self.outbox.record_now(
                    attempt.record.id,
                    ExportState.UNKNOWN,
                    error_class=type(attempt.error).__name__,
                    error=str(attempt.error),
                )
                await self.store.hold(owner, [attempt.record.id], UNKNOWN_OUTCOME_HOLD)
                continue
            retry_after = (
                attempt.error.retry_after if isinstance(attempt.error, LaporUnavailable) else None
            )
            decision = self.retry.decide(tries, retry_after)
            retryable = isinstance(attempt.error, LaporNotSent | LaporUnavailable | LaporAuthError)
            if retryable and decision.retry:
                until = now + timedelta(seconds=decision.wait_seconds)
                await self._defer(owner, attempt, until)
            else:
                dead.append(attempt)
            if isinstance(attempt.error, LaporRejected | LaporAuthError):
                log.error("LAPOR! refused complaint %d: %s", attempt.record.id, attempt.error)

        async def record_outbox(conn: AsyncConnection, committed: set[int]) -> None:
            await self.outbox.record_accepted(
                conn,
                {
                    a.record.id: a.lapor_id or ""
                    for a in accepted
                    if a.record.id in committed and a.lapor_id is not None
                },
            )
            for attempt in dead:
                if attempt.record.id in committed:
                    await self.outbox.record(
                        conn,
                        attempt.record.id,
                        ExportState.FAILED,
                        error_class=type(attempt.error).__name__,
                        error=str(attempt.error),
                    )

        changes = [
            Change(
                a.record.id,
                State.ROUTED,
                State.EXPORTED,
                f"exporter:{TARGET}",
                values={"lapor_id": a.lapor_id},
            )
            for a in accepted
        ] + [
            Change(a.record.id, State.ROUTED, State.EXPORT_FAILED, f"exporter:{TARGET}")
            for a in dead
        ]
        if changes:
            await self.store.apply(owner, changes, also=record_outbox)
        for attempt in accepted:
            self.metrics.exported.labels(TARGET).inc()
            self._observe_latency(attempt.record.received_at, now)

    async def _defer(self, owner: str, attempt: Attempt, until: datetime) -> None:
        await self.outbox.record_now(
            attempt.record.id,
            ExportState.RETRY,
            error_class=type(attempt.error).__name__,
            error=str(attempt.error),
            next_attempt_at=until,
        )
        await self.store.defer(owner, [attempt.record.id], until)

    def _observe_latency(self, received_at: datetime, now: datetime) -> None:
        self.metrics.export_latency.labels(TARGET).observe(
            max(0.0, (now - received_at).total_seconds())
        )
