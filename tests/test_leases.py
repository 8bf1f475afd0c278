"""Stage workers share work through leases: never twice at once, never lost to a crash."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from muara.classify.stage import ClassifyStage
from muara.config import WorkerSettings
from muara.domain import State, Suggestion
from muara.exporters.metrics import Metrics
from muara.store.engine import create_engine
from muara.store.repository import Store
from muara.store.tables import state_history, suggestions
from muara.testing import FakeClock
from muara.worker import StageWorker
from tests.factories import complaint

REPO = Path(__file__).resolve().parents[1]


class RecordingClassifier:
    """Suggests one agency for everything and remembers what it was asked to classify."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def predict(self, texts: Sequence[str], top_k: int = 3) -> list[Suggestion]:
        self.seen.extend(texts)
        return [Suggestion("DLH", 0.9, (("DLH", 0.9),), "test-1") for _ in texts]

    def __call__(self) -> RecordingClassifier:
        return self


async def drain(worker: StageWorker) -> None:
    """Run batches until none is left; each claim and commit awaits the database anyway."""
    while await worker.run_once():
        pass


async def test_two_workers_on_postgresql_never_process_the_same_complaint(
    pg_database: str,
) -> None:
    pg_url = pg_database
    seed = create_engine(pg_url)
    await Store(seed).store_many(
        [(complaint(n, text=f"keluhan nomor {n}"), None) for n in range(400)]
    )
    await seed.dispose()
    classifier = RecordingClassifier()
    engines = [create_engine(pg_url) for _ in range(2)]
    try:
        workers = []
        for engine in engines:
            store = Store(engine)
            stage = ClassifyStage(store, classifier, Metrics())
            workers.append(StageWorker(stage, store, WorkerSettings(batch_size=7)))
        await asyncio.gather(*(drain(worker) for worker in workers))
        counts = Counter(classifier.seen)
        assert len(counts) == 400
        assert max(counts.values()) == 1
        assert all(worker.processed > 0 for worker in workers), "both workers took a share"
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_worker_killed_mid_batch_loses_nothing_and_the_work_is_done_once(
    store_url: str,
) -> None:
    url = store_url
    engine = create_engine(url)
    # The killed worker leased on the real clock; ours starts there and then jumps ahead.
    clock = FakeClock(datetime.now(UTC))
    store = Store(engine, clock=clock)
    await store.store_many([(complaint(n, text=f"keluhan {n}"), None) for n in range(10)])

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.helpers.stalled_worker",
        url,
        "6",
        "30",
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line.decode().strip() == "claimed 6"
    finally:
        process.send_signal(signal.SIGKILL)
        await process.communicate()

    classifier = RecordingClassifier()
    worker = StageWorker(ClassifyStage(store, classifier, Metrics()), store, WorkerSettings())
    # The dead worker leased on the real clock less than 30 s ago: start ours at the real now.
    clock.now = datetime.now(UTC)
    # Before the dead worker's lease expires only the 4 it did not hold are free.
    assert await worker.run_once() == 4
    assert await worker.run_once() == 0
    clock.advance(31)
    assert await worker.run_once() == 6
    async with engine.connect() as conn:
        per_complaint = (
            await conn.execute(
                select(suggestions.c.complaint_id, func.count()).group_by(
                    suggestions.c.complaint_id
                )
            )
        ).all()
        classified = await conn.scalar(
            select(func.count()).where(state_history.c.to_state == State.CLASSIFIED.value)
        )
    await engine.dispose()
    assert len(per_complaint) == 10 and all(count == 1 for _, count in per_complaint)
    assert classified == 10
    assert sorted(classifier.seen) == sorted(f"keluhan {n}" for n in range(10))
