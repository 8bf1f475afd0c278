"""A stage worker stopped mid-batch gives its leases back at once."""

from __future__ import annotations

import asyncio

from muara.config import WorkerSettings
from muara.domain import State
from muara.store.records import ComplaintRecord
from muara.store.repository import Store
from muara.worker import StageWorker
from tests.factories import complaint


class HangingStage:
    """A stage that never finishes its batch, so the test can stop the worker mid-batch."""

    name = "hang"
    source_state = State.NEW

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def handle(self, batch: list[ComplaintRecord], owner: str) -> None:
        self.entered.set()
        await asyncio.Event().wait()


async def test_cancelling_a_worker_mid_batch_releases_its_leases(store: Store) -> None:
    await store.store_many([(complaint(n), None) for n in range(5)])
    stage = HangingStage()
    worker = StageWorker(stage, store, WorkerSettings(lease_seconds=600))
    task = asyncio.create_task(worker.run_once())
    await asyncio.wait_for(stage.entered.wait(), 10)
    assert await store.claim(State.NEW, owner="other", limit=10, lease_seconds=1) == []
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # No waiting for the 600 s lease: another worker takes the batch at once.
    again = await store.claim(State.NEW, owner="other", limit=10, lease_seconds=1)
    assert len(again) == 5
