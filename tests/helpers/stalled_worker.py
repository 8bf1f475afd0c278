"""A classify worker that claims one batch and then stalls, so a test can SIGKILL it mid-batch.

Usage: python -m tests.helpers.stalled_worker STORE_URL BATCH_SIZE LEASE_SECONDS
Prints "claimed <ids>" once its batch is leased, then blocks forever.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Sequence

from muara.classify.stage import ClassifyStage
from muara.config import WorkerSettings
from muara.domain import Suggestion
from muara.exporters.metrics import Metrics
from muara.store.engine import create_engine
from muara.store.repository import Store
from muara.worker import StageWorker


class StallingClassifier:
    """Announces the batch it got, then never returns (as if the process hung or died)."""

    def predict(self, texts: Sequence[str], top_k: int = 3) -> list[Suggestion]:
        print(f"claimed {len(texts)}", flush=True)
        threading.Event().wait()
        raise AssertionError("unreachable")


async def main(url: str, batch_size: int, lease_seconds: float) -> None:
    engine = create_engine(url)
    store = Store(engine)
    stage = ClassifyStage(store, StallingClassifier, Metrics())
    worker = StageWorker(
        stage, store, WorkerSettings(batch_size=batch_size, lease_seconds=lease_seconds)
    )
    await worker.run_once()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
