"""What a Prometheus scrape costs: GET /metrics on a store of N complaints, server-side.

    python bench/ops_scrape.py                 # SQLite in a temporary folder, 100,000 complaints
    python bench/ops_scrape.py --pg            # a scratch database on PostgreSQL 127.0.0.1:5432
    python bench/ops_scrape.py -n 1000000 --runs 20

Store gauges are computed at scrape time (DESIGN.md, prometheus/client_python's pattern), so a
scrape runs the same queries as the daemon's: counts by state and channel, the oldest waiting per
stage, the outbox and SLA clocks, the review queue. The store is filled as a region's looks after
months: most complaints filed or closed, a few percent waiting in each stage. The ops server is
served on loopback exactly as the daemon serves it; the time printed is request to last byte.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy import update

from muara.domain import NewComplaint, Reporter, State
from muara.exporters.backlog import BacklogCollector
from muara.exporters.metrics import Metrics
from muara.exporters.sla_report import ExportCollector
from muara.review.app import mount_review
from muara.review.settings import ReviewSettings
from muara.store.engine import create_engine, migrate
from muara.store.repository import Store
from muara.store.tables import complaints
from muara.web import OpsContext, create_ops_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import timed_gets

CHANNELS = ["callcenter", "email", "x", "112"]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# Where a region's complaints are after a few months, per 100.
SHARES = [
    (State.CLOSED, 55),
    (State.EXPORTED, 25),
    (State.DISCARDED, 6),
    (State.DUPLICATE, 4),
    (State.REVIEW, 3),
    (State.ROUTED, 3),
    (State.CLASSIFIED, 1),
    (State.NEW, 2),
    (State.EXPORT_FAILED, 1),
]


def state_of(i: int) -> State:
    slot, total = i % 100, 0
    for state, share in SHARES:
        total += share
        if slot < total:
            return state
    raise AssertionError(slot)


async def fill(store: Store, n: int) -> None:
    start = datetime(2026, 8, 1, tzinfo=UTC)
    chunk = 5000
    for offset in range(0, n, chunk):
        items = [
            (
                NewComplaint(
                    channel=CHANNELS[i % len(CHANNELS)],
                    source_id=f"s-{i}",
                    received_at=start + timedelta(seconds=61 * i),
                    text=f"Keluhan nomor {i}: lampu jalan mati di gang {i % 50}",
                    reporter=Reporter(name="Warga", contact=f"0812{i:08d}"),
                    district="Gayungan",
                ),
                None,
            )
            for i in range(offset, min(n, offset + chunk))
        ]
        stored = await store.store_many(items)
        by_state: dict[State, list[int]] = {}
        for i, result in zip(range(offset, offset + len(items)), stored, strict=True):
            by_state.setdefault(state_of(i), []).append(result.id)
        async with store.engine.begin() as conn:
            for state, ids in by_state.items():
                if state is not State.NEW:
                    await conn.execute(
                        update(complaints)
                        .where(complaints.c.id.in_(ids))
                        .values(state=state.value, agency="DLH")
                    )


async def bench(url: str, n: int, runs: int) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
        store = Store(engine)
        began = time.perf_counter()
        await fill(store, n)
        print(f"filled {n:,} complaints in {time.perf_counter() - began:.0f} s")
        metrics = Metrics(CollectorRegistry())
        ops = OpsContext(store, metrics, {})
        for collector in (
            BacklogCollector(engine, store.clock),
            ExportCollector(engine, store.clock, timedelta(hours=24)),
        ):
            metrics.registry.register(collector)
            ops.scrape_hooks.append(collector.refresh)
        app = create_ops_app(ops)
        mount_review(app, ops, engine, ReviewSettings(), metrics, store.clock)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        try:
            async with aiohttp.ClientSession() as http:
                await timed_gets(http, f"http://{host}:{port}/metrics", 2)  # warm caches
                times = sorted(await timed_gets(http, f"http://{host}:{port}/metrics", runs))
        finally:
            await runner.cleanup()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(
            f"GET /metrics over {n:,} complaints: median {statistics.median(times):.1f} ms, "
            f"p95 {p95:.1f} ms, max {times[-1]:.1f} ms ({runs} scrapes)"
        )
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="complaints in the store")
    parser.add_argument("--runs", type=int, default=30, help="scrapes timed")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    if not args.pg:
        with tempfile.TemporaryDirectory() as folder:
            print("SQLite")
            await bench(f"sqlite+aiosqlite:///{folder}/bench.db", args.n, args.runs)
        return
    name = f"muara_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        print("PostgreSQL")
        await bench(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", args.n, args.runs)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
