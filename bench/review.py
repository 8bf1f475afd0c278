"""The review desk's speed: the queue page with 10,000 complaints waiting, server-side.

    python bench/review.py                 # SQLite in a temporary folder, 10,000 waiting
    python bench/review.py --pg            # a scratch database on PostgreSQL 127.0.0.1:5432
    python bench/review.py -n 20000 --runs 50

The store is filled the way the stages fill it (classified with a suggestion, routed to REVIEW);
the desk is served on loopback exactly as the daemon serves it, and a logged-in client asks for
pages. The time printed is from request to the last byte of the answer on loopback: the server's
work (queries, rendering) plus a loopback round trip well under a millisecond.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg

from muara.domain import NewComplaint, Reporter
from muara.exporters.settings import SlaSettings
from muara.review.context import forwarding_deadline
from muara.review.settings import ReviewSettings
from muara.store.engine import create_engine, migrate
from muara.store.repository import Store
from muara.store.review_accounts import Role
from muara.testing import FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.measure import timed_gets
from tests.review_helpers import PASSWORD, serve_desk, suggestion, to_review

AGENCIES = ["DLH", "DPUBM", "PDAM", "BPBD", "DISHUB"]
CHANNELS = ["callcenter", "email", "x", "112"]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def fill(store: Store, n: int) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    chunk = 2000
    for offset in range(0, n, chunk):
        items = []
        for i in range(offset, min(n, offset + chunk)):
            complaint = NewComplaint(
                channel=CHANNELS[i % len(CHANNELS)],
                source_id=f"b-{i}",
                received_at=start + timedelta(seconds=97 * i),
                text=f"Keluhan nomor {i}: sampah menumpuk dan saluran mampet di gang {i % 50}",
                reporter=Reporter(name="Warga", contact=f"0812{i:08d}"),
                district="Gayungan",
            )
            items.append((complaint, suggestion(AGENCIES[i % len(AGENCIES)], 0.4 + (i % 40) / 100)))
        await to_review(store, items)


async def log_in(http: aiohttp.ClientSession, base: str, username: str) -> None:
    async with http.get(f"{base}login") as page:
        token = CSRF.search(await page.text())
    assert token is not None
    async with http.post(
        f"{base}login", data={"csrf": token.group(1), "username": username, "password": PASSWORD}
    ) as response:
        assert response.status == 200 and "/login" not in str(response.url), response.url


async def run(url: str, n: int, runs: int) -> None:
    engine = create_engine(url)
    await migrate(engine)
    clock = FakeClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    store = Store(engine, clock=clock)
    began = time.perf_counter()
    await fill(store, n)
    print(f"filled {n:,} complaints in REVIEW in {time.perf_counter() - began:.1f} s", flush=True)
    # With the LAPOR! deadline column, as the embedded default serves the queue.
    deadline = forwarding_deadline(SlaSettings())
    settings = ReviewSettings(login_attempts_per_minute=100)
    async with serve_desk(store, clock, settings, deadline=deadline) as desk:
        await desk.user("siti")
        await desk.user("dewi", Role.COORDINATOR, {"PDAM"})
        pages = {
            "queue, first page": "",
            "queue, page 100": "?page=100",
            "queue, channel filter": "?channel=email",
            "queue, agency filter": "?agency=DLH",
            "queue, agency filter, page 20": "?agency=DLH&page=20",
            "complaint page": "complaints/5000",
        }
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            await log_in(http, desk.url, "siti")
            await timed_gets(http, desk.url, 3)  # warm caches and the template
            print(f"{'page':<34}{'median ms':>10}{'p95 ms':>10}{'max ms':>10}")
            for name, path in pages.items():
                times = sorted(await timed_gets(http, desk.url + path, runs))
                p95 = times[max(0, int(len(times) * 0.95) - 1)]
                print(f"{name:<34}{statistics.median(times):>10.1f}{p95:>10.1f}{times[-1]:>10.1f}")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await log_in(http, desk.url, "dewi")
            times = sorted(await timed_gets(http, desk.url, runs))
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            name = "queue, coordinator limited to PDAM"
            print(f"{name:<34}{statistics.median(times):>10.1f}{p95:>10.1f}{times[-1]:>10.1f}")
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="complaints waiting for review")
    parser.add_argument("--runs", type=int, default=30, help="requests per page")
    parser.add_argument("--pg", action="store_true", help="a scratch PostgreSQL database")
    args = parser.parse_args()
    if not args.pg:
        with tempfile.TemporaryDirectory() as folder:
            print(f"store: SQLite, {args.n:,} complaints waiting")
            await run(f"sqlite+aiosqlite:///{folder}/bench.db", args.n, args.runs)
        return
    name = f"muara_bench_review_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        print(f"store: PostgreSQL, {args.n:,} complaints waiting")
        await run(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", args.n, args.runs)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
