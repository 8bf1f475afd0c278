"""The stage worker: claim a batch under a lease, hand it to a stage, repeat until told to stop."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import Protocol

from muara.config import WorkerSettings
from muara.domain import State
from muara.store.records import ComplaintRecord
from muara.store.repository import Store

log = logging.getLogger(__name__)


class Stage(Protocol):
    """One step of the flow: takes complaints in `source_state` and commits their next state."""

    @property
    def name(self) -> str:
        """Stage name, used in task names, lease owners, logs and metrics."""
        ...

    @property
    def source_state(self) -> State:
        """The state this stage picks work up from."""
        ...

    async def handle(self, batch: list[ComplaintRecord], owner: str) -> None:
        """Process a claimed batch and commit every complaint's next state (or release it)."""
        ...


def new_owner_id(stage: str) -> str:
    """A lease owner name unique to this process and worker, readable in the store."""
    return f"{socket.gethostname()}:{os.getpid()}:{stage}:{uuid.uuid4().hex[:8]}"


class StageWorker:
    """Runs one stage in a loop; several may run on PostgreSQL, one per stage on SQLite."""

    def __init__(self, stage: Stage, store: Store, settings: WorkerSettings) -> None:
        self.stage = stage
        self.store = store
        self.settings = settings
        self.owner = new_owner_id(stage.name)
        self.processed = 0

    async def run_once(self) -> int:
        """Claim and handle one batch; return its size (0: nothing to do)."""
        batch = await self.store.claim(
            self.stage.source_state,
            owner=self.owner,
            limit=self.settings.batch_size,
            lease_seconds=self.settings.lease_seconds,
        )
        if not batch:
            return 0
        try:
            await self.stage.handle(batch, self.owner)
        except asyncio.CancelledError:
            # Stopped mid-batch: give back what we hold so nobody waits for the lease to expire.
            await asyncio.shield(self.store.release(self.owner, [c.id for c in batch]))
            raise
        self.processed += len(batch)
        return len(batch)
