"""The export stage: files ROUTED complaints into LAPOR! through the outbox, exactly once.

The outbox row is committed as `sending` before the call. A later attempt reads it first:

- `accepted`: LAPOR! has it. If a coordinator re-routed the complaint since, the forward call
  moves it to the new institution (`forwards.py`); a second filing is never made.
- `sending` (the process died mid-call) or `unknown` (a timeout, a reset, a 5xx after sending):
  the call may have created a complaint. After `reconcile_after_seconds` (a slow LAPOR! may still
  be finishing the request) it is looked up by our reference: found once → accepted with that id;
  not found → filed again; found twice, or LAPOR! cannot answer → held for an operator with what
  was seen (the `evidence` column; `muara lapor held`).
- no row, or `retry`: filed, after uploading its attachments, under the per-target concurrency
  limit, rate limit and circuit breaker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from muara.domain import State
from muara.exporters.attachments import load_attachments
from muara.exporters.breaker import STATE_VALUES, BreakerState, CircuitBreaker
from muara.exporters.forwards import Forwards, ForwardStep
from muara.exporters.lapor.client import LaporClient
from muara.exporters.lapor.errors import (
    LaporError,
    LaporOutcomeUnknown,
    LaporRejected,
    LaporUnavailable,
)
from muara.exporters.lapor.models import AttachmentFile
from muara.exporters.lapor.payload import FilingInput, build_filing_body
from muara.exporters.metrics import Metrics
from muara.exporters.outcomes import Kind, Outcome
from muara.exporters.ratelimit import TokenBucket
from muara.exporters.retry import RetryPolicy
from muara.exporters.settings import LaporSettings, SlaSettings
from muara.exporters.tracking import (
    Filed,
    Tracker,
    calendar_from,
    classification_id,
    classification_of,
    rules_from,
)
from muara.store.outbox import Acceptance, ExportState, Outbox, OutboxRow
from muara.store.records import Change, ComplaintRecord
from muara.store.repository import Store

log = logging.getLogger(__name__)

TARGET = "lapor"
T = TypeVar("T")
# How long complaints wait while a half-open breaker's single trial call is out.
TRIAL_WAIT = timedelta(seconds=1)


def reference(complaint_id: int) -> str:
    """Our id as it is tagged on the LAPOR! filing, so a filing can be found again."""
    return f"MUARA-{complaint_id}"


def filing_input(
    record: ComplaintRecord,
    institution_id: int,
    attachment_ids: Sequence[int] = (),
    classification: int | None = None,
) -> FilingInput:
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
        attachment_ids=tuple(attachment_ids),
        classification_id=classification,
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


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
        sla: SlaSettings | None = None,
        retry: RetryPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.client = client
        self.settings = settings
        self.metrics = metrics
        self.outbox = Outbox(store.engine, TARGET, clock=store.clock)
        self.retry = retry or RetryPolicy(settings.retry_seconds, settings.max_attempts)
        self.breaker = CircuitBreaker(
            settings.breaker_failures,
            timedelta(seconds=settings.breaker_cooldown_seconds),
            store.clock,
            on_change=self._breaker_changed,
        )
        metrics.export_circuit.labels(TARGET).set_function(lambda: STATE_VALUES[self.breaker.state])
        self.bucket = TokenBucket(settings.rate_per_second, settings.rate_burst, monotonic)
        self._slots = asyncio.Semaphore(settings.concurrency)
        sla = sla or SlaSettings()
        self.tracker = Tracker(
            calendar_from(sla),
            rules_from(sla),
            timedelta(seconds=settings.sync_young_interval_seconds),
        )
        self.forward_step = ForwardStep(
            Forwards(store.engine, store.clock),
            client,
            settings,
            self.breaker,
            self.retry,
            self._call,
            store.clock,
        )

    def ready(self) -> bool:
        """For /readyz: false while the breaker is open (LAPOR! is down or refuses our keys)."""
        return self.breaker.state is not BreakerState.OPEN

    def _breaker_changed(self, state: BreakerState) -> None:
        if state is BreakerState.OPEN:
            log.error(
                "LAPOR! circuit breaker open: no calls until %s", _iso(self.breaker.reopens_at)
            )
        elif state is BreakerState.CLOSED:
            log.info("LAPOR! circuit breaker closed: LAPOR! answers again")

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        """One LAPOR! call within the concurrency limit and the rate limit."""
        async with self._slots:
            wait = self.bucket.reserve()
            if wait > 0:
                await asyncio.sleep(wait)
            return await call()

    async def _institutions(self) -> dict[str, int]:
        mapping = await self.outbox.institution_ids()
        mapping.update(self.settings.institutions)  # the config file wins over a sync
        return mapping

    async def handle(self, batch: list[ComplaintRecord], owner: str) -> None:
        """File what is safe to file, settle what may be filed, hold the rest; commit all."""
        known = await self.outbox.rows([record.id for record in batch])
        institutions = await self._institutions()
        accepted = [r.id for r in batch if r.id in known and known[r.id].is_accepted]
        forwards = await self.forward_step.forwards.latest(accepted)
        now = self.store.clock()
        outcomes: list[Outcome] = []
        jobs: list[Awaitable[Outcome]] = []
        fresh: list[tuple[ComplaintRecord, int, OutboxRow | None]] = []
        for record in batch:
            row = known.get(record.id)
            institution = institutions.get(record.agency or "")
            if row is not None and row.is_accepted and row.external_id is not None:
                if institution is None:
                    outcomes.append(self._unmapped(record))
                elif row.institution_id in (None, institution):
                    outcomes.append(
                        Outcome(
                            record,
                            Kind.EXPORTED,
                            lapor_id=row.external_id,
                            institution_id=institution,
                            attachment_ids=row.attachment_ids,
                        )
                    )
                else:
                    assert row.institution_id is not None
                    jobs.append(
                        self.forward_step.run(
                            record,
                            row.external_id,
                            row.institution_id,
                            institution,
                            forwards.get(record.id),
                        )
                    )
            elif row is not None and row.state in (ExportState.SENDING, ExportState.UNKNOWN):
                jobs.append(self._reconcile(record, row, institution))
            elif institution is None:
                outcomes.append(self._unmapped(record))
            elif self.breaker.allow():
                fresh.append((record, institution, row))
            else:
                outcomes.append(self._gated(record, now))
        await self.outbox.mark_sending(known, [record.id for record, _, _ in fresh])
        files = await load_attachments(
            self.store.engine,
            [record.id for record, _, _ in fresh],
            max_count=self.settings.attachments_max,
            max_bytes=self.settings.attachment_max_bytes,
        )
        for record, institution, row in fresh:
            jobs.append(self._send(record, institution, row, files.get(record.id, [])))
        outcomes.extend(await asyncio.gather(*jobs))
        await self._commit(owner, outcomes)

    def _gated(self, record: ComplaintRecord, now: datetime) -> Outcome:
        reopens = self.breaker.reopens_at or now
        return Outcome(record, Kind.DEFER, until=max(reopens, now + TRIAL_WAIT))

    def _unmapped(self, record: ComplaintRecord) -> Outcome:
        reason = (
            f"agency {record.agency!r} has no LAPOR! institution id: set "
            f"lapor.institutions.{record.agency} or run `muara lapor sync-institutions`"
        )
        return Outcome(record, Kind.HOLD, reason=reason, hold_label="unmapped_agency")

    async def _send(
        self,
        record: ComplaintRecord,
        institution: int,
        row: OutboxRow | None,
        files: list[AttachmentFile],
    ) -> Outcome:
        """Upload the attachments (once), then file; the outcome of the filing call."""
        attempts = (row.attempts if row is not None else 0) + 1
        attachment_ids = row.attachment_ids if row is not None else ()
        classification = classification_id(self.settings, classification_of(record.extra))
        try:
            if files and not attachment_ids:
                attachment_ids = tuple(
                    await self._call(lambda: self.client.upload_attachments(files))
                )
            body = build_filing_body(
                filing_input(record, institution, attachment_ids, classification), self.settings
            )
            lapor_id = await self._call(lambda: self.client.file_complaint(body))
        except LaporError as err:
            return self._failed(record, err, attempts, attachment_ids)
        self.breaker.succeeded()
        return Outcome(
            record,
            Kind.EXPORTED,
            lapor_id=lapor_id,
            institution_id=institution,
            attachment_ids=attachment_ids,
            filed_now=True,
        )

    def _failed(
        self,
        record: ComplaintRecord,
        err: LaporError,
        attempts: int,
        attachment_ids: tuple[int, ...],
    ) -> Outcome:
        """What a failed filing call means for the complaint (errors.py's table)."""
        now = self.store.clock()
        self.metrics.export_errors.labels(TARGET, type(err).__name__).inc()
        columns: dict[str, Any] = {
            "error_class": type(err).__name__,
            "error": str(err),
            "attachment_ids": list(attachment_ids),
        }
        if isinstance(err, LaporOutcomeUnknown):
            self.breaker.failed()
            evidence = {
                "sent_at": _iso(now),
                "error_class": type(err).__name__,
                "status": err.status,
            }
            until = now + timedelta(seconds=self.settings.reconcile_after_seconds)
            log.warning("complaint %d: LAPOR! filing outcome unknown; reconciling later", record.id)
            return Outcome(
                record,
                Kind.DEFER,
                until=until,
                outbox={
                    **columns,
                    "state": ExportState.UNKNOWN,
                    "evidence": evidence,
                    "lookups": 0,
                },
            )
        if isinstance(err, LaporRejected):
            self.breaker.succeeded()  # LAPOR! answered: it is up, the request is wrong
            log.error("LAPOR! refused complaint %d: %s", record.id, err)
            return Outcome(record, Kind.DEAD, error=err)
        self.breaker.failed()
        retry_after = err.retry_after if isinstance(err, LaporUnavailable) else None
        decision = self.retry.decide(attempts, retry_after)
        if not decision.retry:
            log.error("complaint %d: retry budget spent (%s)", record.id, type(err).__name__)
            return Outcome(record, Kind.DEAD, error=err)
        until = now + timedelta(seconds=decision.wait_seconds)
        return Outcome(
            record,
            Kind.DEFER,
            until=until,
            error=err,
            outbox={**columns, "state": ExportState.RETRY, "next_attempt_at": until},
        )

    async def _reconcile(
        self, record: ComplaintRecord, row: OutboxRow, institution: int | None
    ) -> Outcome:
        """Settle a filing whose outcome is unknown by looking it up; never blindly resend."""
        now = self.store.clock()
        evidence = dict(row.evidence or {})
        if row.state is ExportState.SENDING:
            # The process stopped between committing `sending` and storing the answer.
            evidence = {"sent_at": _iso(row.updated_at), "error_class": "Interrupted"}
            await self.outbox.record_now(
                record.id,
                ExportState.UNKNOWN,
                error_class="Interrupted",
                error="the process stopped between sending the call and storing its answer",
                evidence=evidence,
                lookups=0,
            )
            row = OutboxRow(
                row.complaint_id,
                ExportState.UNKNOWN,
                row.attempts,
                None,
                row.institution_id,
                now,
                0,
                row.attachment_ids,
                "Interrupted",
                evidence,
            )
        wait = timedelta(seconds=self.settings.reconcile_after_seconds)
        since = row.updated_at or now
        if now - since < wait:
            return Outcome(record, Kind.DEFER, until=since + wait)
        if not self.breaker.allow():
            return self._gated(record, now)
        lookups = row.lookups + 1
        ref = reference(record.id)
        try:
            hits = await self._call(lambda: self.client.find_by_reference(ref))
        except LaporRejected as err:
            self.breaker.succeeded()
            return self._cannot_reconcile(record, evidence, lookups, err, now)
        except LaporError as err:
            self.breaker.failed()
            if lookups >= self.settings.reconcile_attempts:
                return self._cannot_reconcile(record, evidence, lookups, err, now)
            decision = self.retry.decide(lookups, getattr(err, "retry_after", None))
            until = now + timedelta(seconds=decision.wait_seconds or self.settings.retry_seconds)
            evidence["lookup"] = {"at": _iso(now), "error_class": type(err).__name__}
            return Outcome(
                record,
                Kind.DEFER,
                until=until,
                outbox={
                    "state": ExportState.UNKNOWN,
                    "error_class": row.last_error_class or "LaporOutcomeUnknown",
                    "error": f"lookup {lookups} failed: {err}",
                    "evidence": evidence,
                    "lookups": lookups,
                },
            )
        self.breaker.succeeded()
        found = [hit.lapor_id for hit in hits]
        evidence["lookup"] = {"at": _iso(now), "path": self.settings.lookup_path, "found": found}
        if len(hits) == 1:
            self.metrics.export_reconciled.labels(TARGET, "found").inc()
            log.info("complaint %d: found in LAPOR! by its reference; not filed again", record.id)
            return Outcome(
                record,
                Kind.EXPORTED,
                lapor_id=hits[0].lapor_id,
                institution_id=hits[0].institution_id or institution or row.institution_id,
                attachment_ids=row.attachment_ids,
            )
        if hits:
            self.metrics.export_reconciled.labels(TARGET, "duplicates").inc()
            reason = (
                f"LAPOR! holds {len(hits)} complaints tagged {ref} (ids {', '.join(found)}): "
                "withdraw the extra ones in LAPOR!, then `muara lapor resolve "
                f"{record.id} --filed-as ID`"
            )
            return self._hold_unknown(record, reason, "duplicate_in_lapor", evidence, lookups)
        self.metrics.export_reconciled.labels(TARGET, "absent").inc()
        log.info("complaint %d: not in LAPOR! after an unknown outcome; filing it", record.id)
        if institution is None:
            return self._unmapped(record)
        retry_row = OutboxRow(
            row.complaint_id,
            ExportState.RETRY,
            row.attempts,
            None,
            row.institution_id,
            now,
            lookups,
            row.attachment_ids,
        )
        await self.outbox.mark_sending({record.id: retry_row}, [record.id])
        files = await load_attachments(
            self.store.engine,
            [record.id],
            max_count=self.settings.attachments_max,
            max_bytes=self.settings.attachment_max_bytes,
        )
        return await self._send(record, institution, retry_row, files.get(record.id, []))

    def _cannot_reconcile(
        self,
        record: ComplaintRecord,
        evidence: dict[str, Any],
        lookups: int,
        err: LaporError,
        now: datetime,
    ) -> Outcome:
        self.metrics.export_reconciled.labels(TARGET, "failed").inc()
        evidence["lookup"] = {
            "at": _iso(now),
            "path": self.settings.lookup_path,
            "error_class": type(err).__name__,
            "error": str(err),
        }
        reason = (
            f"LAPOR! filing outcome unknown and LAPOR! cannot answer the lookup ({err}): "
            f"search LAPOR! for {reference(record.id)}, then `muara lapor resolve {record.id} "
            "--filed-as ID` or `--not-filed`"
        )
        return self._hold_unknown(record, reason, "lookup_failed", evidence, lookups)

    def _hold_unknown(
        self,
        record: ComplaintRecord,
        reason: str,
        label: str,
        evidence: dict[str, Any],
        lookups: int,
    ) -> Outcome:
        log.warning("complaint %d held for an operator: %s", record.id, label)
        return Outcome(
            record,
            Kind.HOLD,
            reason=reason,
            hold_label=label,
            outbox={
                "state": ExportState.UNKNOWN,
                "error_class": "Unreconciled",
                "error": label,
                "evidence": evidence,
                "lookups": lookups,
            },
        )

    async def _commit(self, owner: str, outcomes: list[Outcome]) -> None:
        now = self.store.clock()
        for outcome in outcomes:
            await self._park(owner, outcome)
        exported = [o for o in outcomes if o.kind is Kind.EXPORTED]
        dead = [o for o in outcomes if o.kind is Kind.DEAD]

        async def record_outbox(conn: AsyncConnection, committed: set[int]) -> None:
            mine = [o for o in exported if o.record.id in committed]
            await self.outbox.record_accepted(
                conn,
                {
                    o.record.id: Acceptance(o.lapor_id or "", o.institution_id, o.attachment_ids)
                    for o in mine
                },
            )
            filed = [self._filed(o) for o in mine if not o.forwarded]
            await self.tracker.filed(conn, filed, now)
            await self.tracker.forwarded(conn, [self._filed(o) for o in mine if o.forwarded], now)
            for outcome in dead:
                if outcome.record.id in committed:
                    await self.outbox.record(
                        conn,
                        outcome.record.id,
                        ExportState.FAILED,
                        error_class=type(outcome.error).__name__,
                        error=str(outcome.error),
                    )

        changes = [
            Change(
                o.record.id,
                State.ROUTED,
                State.EXPORTED,
                f"exporter:{TARGET}",
                values={"lapor_id": o.lapor_id},
            )
            for o in exported
        ] + [
            Change(o.record.id, State.ROUTED, State.EXPORT_FAILED, f"exporter:{TARGET}")
            for o in dead
        ]
        lost: list[int] = []
        if changes:
            lost = await self.store.apply(owner, changes, also=record_outbox)
        for outcome in exported:
            if outcome.record.id in lost:
                continue
            if outcome.filed_now:
                self.metrics.exported.labels(TARGET).inc()
                self.metrics.export_latency.labels(TARGET).observe(
                    max(0.0, (now - outcome.record.received_at).total_seconds())
                )
            if outcome.forwarded:
                self.metrics.export_forwards.labels(TARGET).inc()
        for outcome in dead:
            if outcome.record.id not in lost:
                self.metrics.export_dead_letters.labels(TARGET).inc()

    def _filed(self, outcome: Outcome) -> Filed:
        return Filed(
            outcome.record.id,
            outcome.lapor_id or "",
            outcome.record.agency or "",
            outcome.institution_id or 0,
            classification_of(outcome.record.extra),
        )

    async def _park(self, owner: str, outcome: Outcome) -> None:
        """Write a deferred or held complaint's outbox row and release it."""
        if outcome.kind not in (Kind.DEFER, Kind.HOLD):
            return
        if outcome.outbox is not None:
            columns = dict(outcome.outbox)
            state = ExportState(columns.pop("state"))
            await self.outbox.record_now(outcome.record.id, state, **columns)
        if outcome.kind is Kind.DEFER:
            assert outcome.until is not None
            if outcome.error is not None:
                self.metrics.export_retries.labels(TARGET, type(outcome.error).__name__).inc()
            await self.store.defer(owner, [outcome.record.id], outcome.until)
        else:
            self.metrics.export_held.labels(TARGET, outcome.hold_label or "other").inc()
            await self.store.hold(owner, [outcome.record.id], outcome.reason or "held")
