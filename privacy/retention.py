"""The retention job: complaints that reached a final state long ago lose their personal data.

A supervised daemon task. Each batch is one transaction that claims its complaints (PostgreSQL:
`FOR UPDATE SKIP LOCKED`, so replicas share the work), anonymises them (privacy/anonymise.py)
and marks them; a kill mid-batch rolls the batch back and the next run redoes it, a marked
complaint is never picked again. Raw inputs that belong to no complaint (quarantine records, a
second copy of a message already stored) are emptied after the same period, read in id order
from a saved position so a run costs nothing once it has caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muara.domain import State
from muara.exporters.metrics import Metrics
from muara.privacy.anonymise import Outcome, anonymise
from muara.privacy.settings import RetentionSettings
from muara.store.cursors import Cursors
from muara.store.followups_tables import complaint_messages
from muara.store.privacy_tables import anonymised_complaints
from muara.store.records import Clock, utc_now
from muara.store.tables import complaints, raw_inputs
from muara.supervisor import TaskBody, TaskHealth

log = logging.getLogger(__name__)

ACTOR = "retention"
TASK_NAME = "privacy:retention"
RAW_CURSOR = "retention:raw_inputs"
# Final states: nothing in the flow brings these back except a coordinator's reopening of a
# discarded one (DISCARDED -> REVIEW), which a year later nobody does. DUPLICATE holds a second
# reporter's data; the complaint it repeats keeps its own.
FINAL_STATES = (State.CLOSED, State.DISCARDED, State.DUPLICATE, State.QUARANTINED)


async def eligible(conn: AsyncConnection, cutoff: datetime, limit: int) -> list[int]:
    """Ids of final complaints unchanged since `cutoff` and not anonymised yet, claimed."""
    query = (
        select(complaints.c.id)
        .where(
            complaints.c.state.in_([state.value for state in FINAL_STATES]),
            complaints.c.state_changed_at < cutoff,
            ~select(anonymised_complaints.c.complaint_id)
            .where(anonymised_complaints.c.complaint_id == complaints.c.id)
            .exists(),
        )
        .order_by(complaints.c.id)
        .limit(limit)
    )
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    return list(await conn.scalars(query))


async def drop_unowned_raw(
    conn: AsyncConnection, after_id: int, cutoff: datetime, limit: int
) -> tuple[int, int, int]:
    """Empty raw inputs older than `cutoff` that no complaint or message refers to.

    Reads ids above `after_id` in order and stops at the first one not old enough (ids grow
    with time); returns (last id read, rows read, rows emptied).
    """
    rows = list(
        await conn.execute(
            select(raw_inputs.c.id, raw_inputs.c.received_at, func.length(raw_inputs.c.content))
            .where(raw_inputs.c.id > after_id)
            .order_by(raw_inputs.c.id)
            .limit(limit)
        )
    )
    old = []
    for row in rows:
        if row[1] >= cutoff:
            break
        old.append(row)
    if not old:
        return after_id, 0, 0
    ids = [raw_id for raw_id, _, length in old if length]
    owned: set[int] = set()
    if ids:
        for table in (complaints, complaint_messages):
            owned.update(
                await conn.scalars(
                    select(table.c.raw_input_id).where(table.c.raw_input_id.in_(ids))
                )
            )
    unowned = [raw_id for raw_id in ids if raw_id not in owned]
    if unowned:
        await conn.execute(
            update(raw_inputs).where(raw_inputs.c.id.in_(unowned)).values(content=b"")
        )
    return old[-1][0], len(old), len(unowned)


class RetentionJob:
    """Anonymises what the retention period lets go, in batches, as often as configured."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: RetentionSettings,
        metrics: Metrics | None = None,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.cursors = Cursors(engine, clock=clock)

    async def run_once(self, stop: asyncio.Event | None = None) -> Outcome:
        """Anonymise everything due now, batch by batch; returns what was touched."""
        now = self.clock()
        cutoff = now - self.settings.anonymise_after
        total = Outcome()
        while stop is None or not stop.is_set():
            async with self.engine.begin() as conn:
                ids = await eligible(conn, cutoff, self.settings.batch_size)
                if not ids:
                    break
                outcome = await anonymise(conn, ids, reason=ACTOR, actor=ACTOR, now=now)
            total.add(outcome)
            if self.metrics is not None:
                self.metrics.anonymised.inc(len(outcome.complaint_ids))
            log.info(
                "retention: anonymised %d complaint(s) (ids %d..%d)",
                len(outcome.complaint_ids),
                min(ids),
                max(ids),
            )
        total.rows["raw_inputs_unowned"] += await self._drop_unowned(cutoff, stop)
        if not total.complaint_ids:
            log.debug("retention: nothing due")
        return total

    async def _drop_unowned(self, cutoff: datetime, stop: asyncio.Event | None) -> int:
        position = int((await self.cursors.get(RAW_CURSOR) or {}).get("after_id", 0))
        emptied = 0
        while stop is None or not stop.is_set():
            async with self.engine.begin() as conn:
                position, read, dropped = await drop_unowned_raw(
                    conn, position, cutoff, self.settings.batch_size
                )
            emptied += dropped
            if read:
                await self.cursors.set(RAW_CURSOR, {"after_id": position})
            if read < self.settings.batch_size:
                break
        if emptied:
            log.info("retention: emptied %d raw input(s) no complaint refers to", emptied)
        return emptied

    def task(self, stop: asyncio.Event) -> TaskBody:
        """The supervised task: a run now, then one every `interval`."""

        async def body(health: TaskHealth) -> None:
            while not stop.is_set():
                await self.run_once(stop)
                health.succeeded()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.interval.total_seconds())

        return body
