"""The LAPOR! exporter's speed: filings/s against the simulator, and received_at -> acceptance.

    python bench/export.py                    # 2,000 filings at 0 ms, 400 at 200 ms, 300 e2e
    python bench/export.py -n 5000 --slow-n 800 --e2e-n 500

1. Filings/s: N complaints already ROUTED in a SQLite store are filed by the real export stage
   (outbox, breaker, rate limit; the LAPOR! client over loopback HTTP) into the simulator running
   in a process of its own (`muara lapor-sim --latency-ms`), with the configured concurrency.
   Measured with the configured rate limit, and with the rate limit off to show capacity.
2. Latency from `received_at` to LAPOR!'s acceptance with the embedded default (SQLite, the
   in-process simulator, the starter model, a spool with the default poll interval): CSV files
   are dropped every 2 s, each row received "now" (steady: 10 rows a drop, below the rate limit;
   bursty: 50 rows a drop); the acceptance time is the simulator's.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy import select

from muara.classify.starter import STARTER_AGENCIES
from muara.config import WorkerSettings, load_settings
from muara.daemon import Daemon
from muara.domain import NewComplaint, State
from muara.exporters.filing import FilingStage
from muara.exporters.lapor.simulator import default_institution_ids
from muara.exporters.metrics import Metrics
from muara.exporters.settings import LaporSettings
from muara.store.engine import create_engine, migrate
from muara.store.records import Change
from muara.store.repository import Store
from muara.store.tables import complaints
from muara.worker import StageWorker

HEADER = "call_id,started_at,caller_name,caller_number,category,summary,district,subdistrict\n"
TEXTS = [
    "jalan berlubang besar di depan pasar mohon segera diperbaiki",
    "sampah tidak diangkut sudah seminggu bau sekali",
    "air PDAM mati sejak kemarin pagi",
    "lampu penerangan jalan mati di gang tiga",
]


async def seed(store: Store, n: int) -> None:
    """N complaints moved to ROUTED, spread over the starter agencies."""
    now = datetime.now(UTC)
    codes = sorted(STARTER_AGENCIES)
    for start in range(0, n, 1000):
        count = min(1000, n - start)
        await store.store_many(
            [
                (
                    NewComplaint(
                        "callcenter", f"b-{start + i}", now, TEXTS[(start + i) % len(TEXTS)]
                    ),
                    None,
                )
                for i in range(count)
            ]
        )
        for source, target in ((State.NEW, State.CLASSIFIED), (State.CLASSIFIED, State.ROUTED)):
            claimed = await store.claim(source, owner="bench", limit=count, lease_seconds=600)
            await store.apply(
                "bench",
                [
                    Change(
                        c.id,
                        source,
                        target,
                        "bench",
                        values={"agency": codes[c.id % len(codes)]}
                        if target is State.ROUTED
                        else {},
                    )
                    for c in claimed
                ],
            )


async def start_simulator(latency_ms: float) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "muara",
        "lapor-sim",
        "--port",
        "0",
        "--token",
        "bench-token",
        "--key",
        "bench-key",
        "--latency-ms",
        str(latency_ms),
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    while not (match := re.search(rb"simulator on (http://\S+):", await process.stderr.readline())):
        pass
    return process, match.group(1).decode()


async def filings_per_second(n: int, latency_ms: float, rate: float | None) -> float:
    """Filings/s of the export stage into a simulator answering after `latency_ms`."""
    workdir = Path(tempfile.mkdtemp(prefix="muara-bench-export-"))
    engine = create_engine(f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
    simulator, url = await start_simulator(latency_ms)
    try:
        await migrate(engine)
        store = Store(engine)
        await seed(store, n)
        changes: dict[str, float] = {} if rate is None else {"rate_per_second": rate}
        settings = LaporSettings(
            base_url=url,
            token=SecretStr("bench-token"),
            key=SecretStr("bench-key"),
            institutions=default_institution_ids(STARTER_AGENCIES),
            sync_enabled=False,
            **changes,
        )
        async with aiohttp.ClientSession() as session:
            from muara.exporters.lapor.client import LaporClient

            stage = FilingStage(
                store, LaporClient(settings, session), settings, Metrics(CollectorRegistry())
            )
            worker = StageWorker(stage, store, WorkerSettings())
            started = time.perf_counter()
            while await worker.run_once():
                pass
            elapsed = time.perf_counter() - started
        exported = (await store.status()).by_state().get("EXPORTED", 0)
        if exported != n:
            raise SystemExit(f"only {exported} of {n} exported")
        return n / elapsed
    finally:
        simulator.terminate()
        await simulator.communicate()
        await engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


async def embedded_latency(n: int, waves: int) -> list[float]:
    """Seconds from received_at to acceptance for `n` complaints through the embedded default."""
    workdir = Path(tempfile.mkdtemp(prefix="muara-bench-e2e-"))
    inbox = workdir / "spool" / "inbox"
    settings = load_settings(
        data_dir=workdir / "data",
        http={"port": 0},
        spool=[{"name": "bench", "path": workdir / "spool"}],
        router={"auto_route_threshold": 0.0},
    )
    daemon = Daemon(settings, registry=CollectorRegistry())
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.wait_for(daemon.ready.wait(), 300)
        assert daemon.simulator is not None
        state = daemon.simulator.state
        per_wave = n // waves
        for wave in range(waves):
            now = datetime.now(UTC).astimezone()
            rows = [
                f"e-{wave}-{i},{now.isoformat()},Warga,0812-0000-0000,umum,"
                f"{TEXTS[i % len(TEXTS)]},Gubeng,"
                for i in range(per_wave)
            ]
            inbox.mkdir(parents=True, exist_ok=True)
            (inbox / f"wave-{wave}.csv").write_text(HEADER + "\n".join(rows) + "\n")
            await asyncio.sleep(2)
        async with asyncio.timeout(600):
            while len(state.filings) < per_wave * waves:  # noqa: ASYNC110 - polling a count
                await asyncio.sleep(0.2)
        engine = create_engine(settings.store_url)
        async with engine.connect() as conn:
            received = {
                f"MUARA-{row.id}": row.received_at
                for row in await conn.execute(select(complaints.c.id, complaints.c.received_at))
            }
        await engine.dispose()
        latencies = []
        for filing in state.filings:
            ref = str(filing.body["tags_raw"]).split()[-1].lstrip("#")
            latencies.append((filing.received_at - received[ref]).total_seconds())
        return sorted(latencies)
    finally:
        daemon.request_stop()
        await task
        shutil.rmtree(workdir, ignore_errors=True)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="filings at 0 ms latency")
    parser.add_argument("--slow-n", type=int, default=400, help="filings at 200 ms latency")
    parser.add_argument("--e2e-n", type=int, default=300, help="complaints for the latency run")
    args = parser.parse_args()
    defaults = LaporSettings()
    print(
        f"export stage, SQLite, concurrency {defaults.concurrency}, "
        f"rate limit {defaults.rate_per_second:g}/s (burst {defaults.rate_burst})",
        flush=True,
    )
    for latency, n in ((0.0, args.n), (200.0, args.slow_n)):
        for label, rate in (("configured rate limit", None), ("rate limit off", 0.0)):
            count = n if rate == 0.0 else min(n, 200)
            rps = await filings_per_second(count, latency, rate)
            print(f"  {latency:>5.0f} ms  {label:<22} {rps:>8.1f} filings/s  ({count} filings)")
    print("embedded default, received_at -> LAPOR! acceptance:", flush=True)
    # Steady: arrivals below the rate limit; bursty: a CSV drop of many rows every 2 s.
    for label, waves in (("steady", args.e2e_n // 10), ("bursty", 6)):
        latencies = await embedded_latency(args.e2e_n, waves=waves)
        print(
            f"  {label:<7} median {statistics.median(latencies):6.2f} s, "
            f"p99 {p99(latencies):6.2f} s, max {latencies[-1]:6.2f} s  "
            f"({len(latencies)} complaints, {args.e2e_n // waves} every 2 s)",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
