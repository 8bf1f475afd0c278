"""Helpers for exporter tests: routed complaints in the store, a simulator, a stage to drive."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy import select

from muara.config import WorkerSettings
from muara.domain import NewComplaint, RawInput, Reporter, State
from muara.exporters.filing import FilingStage, reference
from muara.exporters.lapor.client import LaporClient
from muara.exporters.lapor.simulator import (
    SimulatorServer,
    SimulatorState,
    default_institution_ids,
    default_institutions,
)
from muara.exporters.metrics import Metrics
from muara.exporters.retry import RetryPolicy
from muara.exporters.settings import LaporSettings
from muara.store.records import Change
from muara.store.repository import Store
from muara.store.tables import complaints, exports
from muara.testing import FakeClock
from muara.worker import StageWorker

TOKEN, KEY = "tok-export", "key-export"
AGENCIES = {"DLH": "Dinas Lingkungan Hidup", "PDAM": "Perusahaan Daerah Air Minum"}
INSTITUTIONS = default_institution_ids(AGENCIES)
# Personal data in every complaint: it must never reach a log line or a metric label.
REPORTER = Reporter(name="Siti Rahayu", contact="0812-5555-0101")


def lapor_settings(url: str, **changes: Any) -> LaporSettings:
    """Fast settings: short timeout, no rate limit, a breaker that stays out of the way."""
    values: dict[str, Any] = {
        "base_url": url,
        "token": SecretStr(TOKEN),
        "key": SecretStr(KEY),
        "timeout_seconds": 2.0,  # generous: a loaded CI machine must not time out by accident
        "institutions": INSTITUTIONS,
        "rate_per_second": 0,
        "breaker_failures": 1000,
        "reconcile_after_seconds": 60,
        "retry_seconds": 30,
        "max_attempts": 5,
    }
    values.update(changes)
    return LaporSettings(**values)


async def seed_routed(
    store: Store,
    n: int,
    *,
    agency: str = "DLH",
    start: int = 1,
    extra: dict[str, Any] | None = None,
    raws: Sequence[RawInput | None] | None = None,
    reporter: Reporter = REPORTER,
    **fields: Any,
) -> list[int]:
    """`n` complaints moved to ROUTED for `agency`; their ids."""
    items = [
        (
            NewComplaint(
                channel="callcenter",
                source_id=f"call-{start + i}",
                received_at=store.clock(),
                text=f"sampah menumpuk di depan pasar nomor {start + i}",
                reporter=reporter,
                extra=dict(extra or {}),
                **fields,
            ),
            raws[i] if raws is not None else None,
        )
        for i in range(n)
    ]
    ids = [stored.id for stored in await store.store_many(items)]
    for source, target, values in (
        (State.NEW, State.CLASSIFIED, {}),
        (State.CLASSIFIED, State.ROUTED, {"agency": agency}),
    ):
        claimed = await store.claim(source, owner="seed", limit=n, lease_seconds=60)
        await store.apply(
            "seed", [Change(c.id, source, target, "test", values=dict(values)) for c in claimed]
        )
    return ids


@contextlib.asynccontextmanager
async def simulator() -> AsyncIterator[SimulatorServer]:
    """The simulator on loopback with the test agencies as institutions."""
    state = SimulatorState(default_institutions(AGENCIES))
    async with SimulatorServer(state, token=TOKEN, key=KEY) as server:
        yield server


@dataclass
class Rig:
    """A simulator, a client session and a filing stage on the test's store and clock."""

    sim: SimulatorServer
    store: Store
    clock: FakeClock
    stage: FilingStage
    metrics: Metrics
    worker: StageWorker

    async def states(self) -> dict[int, State]:
        """Every complaint's state."""
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(select(complaints.c.id, complaints.c.state))
            return {int(row.id): State(row.state) for row in rows}

    async def complaint(self, complaint_id: int) -> dict[str, Any]:
        """A complaint's row."""
        async with self.store.engine.connect() as conn:
            row = (
                (await conn.execute(select(complaints).where(complaints.c.id == complaint_id)))
                .mappings()
                .one()
            )
            return dict(row)

    async def outbox(self, complaint_id: int) -> dict[str, Any]:
        """A complaint's outbox row."""
        async with self.store.engine.connect() as conn:
            row = (
                (await conn.execute(select(exports).where(exports.c.complaint_id == complaint_id)))
                .mappings()
                .one()
            )
            return dict(row)

    async def drive(self, rounds: int = 40, step: float = 61.0) -> int:
        """Run the stage until nothing is left to claim, moving the clock over each wait."""
        handled = 0
        for _ in range(rounds):
            done = await self.worker.run_once()
            handled += done
            if done:
                continue
            states = await self.states()
            if all(state is not State.ROUTED for state in states.values()):
                return handled
            async with self.store.engine.connect() as conn:
                waiting = await conn.scalar(
                    select(complaints.c.id).where(
                        complaints.c.state == State.ROUTED.value,
                        complaints.c.held_reason.is_(None),
                    )
                )
            if waiting is None:
                return handled  # only held complaints are left
            self.clock.advance(step)
        return handled

    def filings_of(self, complaint_id: int) -> int:
        """How many complaints LAPOR! holds with this complaint's reference."""
        return len(self.sim.state.filings_tagged(reference(complaint_id)))


@contextlib.asynccontextmanager
async def rig(store: Store, clock: FakeClock, **changes: Any) -> AsyncIterator[Rig]:
    """A running rig; `changes` adjust the LAPOR! settings."""
    async with simulator() as sim, aiohttp.ClientSession() as session:
        settings = lapor_settings(sim.url, **changes)
        metrics = Metrics(CollectorRegistry())
        client = LaporClient(settings, session, connect_timeout=1.0)
        retry = RetryPolicy(settings.retry_seconds, settings.max_attempts, max_seconds=600)
        stage = FilingStage(store, client, settings, metrics, retry=retry)
        worker = StageWorker(stage, store, WorkerSettings(batch_size=50, lease_seconds=60))
        yield Rig(sim, store, clock, stage, metrics, worker)
