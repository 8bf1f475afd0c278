"""Retention and `muara forget`: complaints anonymised per second, and how long a forget takes.

    python bench/privacy.py                 # SQLite, 20,000 closed + 100,000 live complaints
    python bench/privacy.py --pg            # a scratch database on PostgreSQL 127.0.0.1
    python bench/privacy.py --closed 50000 --live 500000

Builds a store of synthetic complaints with their raw inputs (each reporter has a phone number,
a name in the text, a NIK in one in ten), `--closed` of them closed over a year ago and `--live`
recent ones, then times: the retention job anonymising every closed one (batches of 500), a
second run with nothing to do, and `forget` (dry run, then for real) of one reporter by phone
number, which reads every complaint's contact and text. Prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import update

from muara.domain import NewComplaint, RawInput, Reporter, State
from muara.privacy.forget import forget
from muara.privacy.retention import RetentionJob
from muara.privacy.settings import RetentionSettings
from muara.store.engine import create_engine, migrate
from muara.store.repository import Store
from muara.store.tables import complaints

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NAMES = ["Siti Rahayu", "Budi Santoso", "Ani Lestari", "Joko Susilo", "Dewi Anggraini"]


def _complaint(n: int, at: datetime) -> tuple[NewComplaint, RawInput]:
    name = NAMES[n % len(NAMES)]
    phone = f"0812-{n // 10000:04d}-{n % 10000:04d}"
    nik = f" NIK 3201{n:012d}" if n % 10 == 0 else ""
    text = f"Saya {name}{nik}, jalan berlubang di RT {n % 20:02d} mohon ditambal, hp {phone}."
    complaint = NewComplaint(
        channel="callcenter",
        source_id=f"c-{n}",
        received_at=at,
        text=text,
        reporter=Reporter(name=name, contact=phone),
        extra={"category": "Jalan", "agent": "Rina"},
    )
    return complaint, RawInput("callcenter", f"cc:c-{n}", f"c-{n},{name},{phone},{text}".encode())


async def build(store: Store, first: int, count: int, at: datetime, state: State) -> None:
    for start in range(first, first + count, 1000):
        items = [_complaint(n, at) for n in range(start, min(first + count, start + 1000))]
        stored = await store.store_many(items)
        async with store.engine.begin() as conn:
            await conn.execute(
                update(complaints)
                .where(complaints.c.id.in_([s.id for s in stored]))
                .values(state=state.value, state_changed_at=at)
            )


async def run(url: str, closed: int, live: int) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
        now = datetime.now(UTC)
        store = Store(engine, clock=lambda: now)
        began = time.perf_counter()
        await build(store, 0, closed, now - timedelta(days=400), State.CLOSED)
        await build(store, closed, live, now - timedelta(days=2), State.ROUTED)
        print(
            f"built {closed:,} closed + {live:,} live complaints in "
            f"{time.perf_counter() - began:.1f} s"
        )

        job = RetentionJob(engine, RetentionSettings(), clock=lambda: now)
        began = time.perf_counter()
        outcome = await job.run_once()
        took = time.perf_counter() - began
        print(
            f"retention: {len(outcome.complaint_ids):,} anonymised in {took:.1f} s "
            f"({len(outcome.complaint_ids) / took:,.0f} complaints/s)"
        )
        began = time.perf_counter()
        again = await job.run_once()
        print(
            f"retention, nothing due: {len(again.complaint_ids)} in "
            f"{(time.perf_counter() - began) * 1000:.0f} ms"
        )

        target = f"+62 812 {(closed + 7) // 10000:04d} {(closed + 7) % 10000:04d}"
        for dry_run in (True, False):
            began = time.perf_counter()
            report = await forget(engine, target, dry_run=dry_run, clock=lambda: now)
            print(
                f"forget by phone{' (dry run)' if dry_run else ''}: "
                f"{len(report.reporter.complaint_ids)} complaint(s) of the reporter, "
                f"{len(report.mentioned.complaint_ids)} quoting it, over "
                f"{closed + live:,} complaints in {time.perf_counter() - began:.2f} s"
            )
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--closed", type=int, default=20_000)
    parser.add_argument("--live", type=int, default=100_000)
    parser.add_argument("--pg", action="store_true", help="a scratch PostgreSQL database")
    args = parser.parse_args()
    if not args.pg:
        with tempfile.TemporaryDirectory() as folder:
            await run(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", args.closed, args.live)
        return
    name = f"muara_bench_privacy_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await run(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", args.closed, args.live)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
