"""Throughput of the whole pipeline: spool ingest -> classify -> route -> export to the simulator.

    python bench/pipeline.py                  # 100,000 complaints, SQLite then PostgreSQL
    python bench/pipeline.py -n 20000 --backend sqlite

Two runs, each in a process of its own on a fresh store (`--mode` picks one). "stages": each
stage on its own over the whole set (the real collector and stage workers, the starter model,
the LAPOR! client over loopback HTTP), so its rate is measured alone, and end to end is N over
the sum of the stage times. "together": ingest and every stage worker at once in one process, as
`muara run` has them, N over the wall time until the last is filed; there what one stage waits
on (SQLite's thread, the simulator's answers) another uses the CPU for. The simulator runs in a
process of its own (`muara lapor-sim`), as LAPOR! is not on our CPU. Peak memory is the
process's maximum resident set.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from pydantic import SecretStr

from muara.classify.model import load_model
from muara.classify.stage import ClassifyStage
from muara.classify.starter import STARTER_AGENCIES, ensure_starter_model, starter_examples
from muara.config import WorkerSettings
from muara.daemon import MeteredSink
from muara.exporters.filing import FilingStage
from muara.exporters.lapor.client import LaporClient
from muara.exporters.lapor.simulator import default_institution_ids
from muara.exporters.metrics import Metrics
from muara.exporters.settings import LaporSettings
from muara.heap import freeze_startup_heap
from muara.ingest.settings import SpoolSource
from muara.ingest.spool import SpoolCollector
from muara.router.settings import DuplicateDetectionSettings, RouterSettings
from muara.router.stage import RouteStage
from muara.store.engine import create_engine, migrate
from muara.store.repository import Store
from muara.worker import Stage, StageWorker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import peak_mb

HEADER = "call_id,started_at,caller_name,caller_number,category,summary,district,subdistrict\n"
ROWS_PER_FILE = 10_000
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def write_spool(inbox: Path, n: int, seed: int = 7) -> None:
    """N synthetic call-center rows, in files of ROWS_PER_FILE, from the starter texts.

    As a region's calls come in: spread over the last 30 days, one caller each, a street of
    2,000 named in the summary, 30 kelurahan; so duplicate detection finds what a real month
    holds (a few callers about the same thing on the same street), not one text 100,000 times.
    """
    rng = random.Random(seed)
    texts = [text.replace(",", " ").replace("\n", " ") for text, _ in starter_examples()]
    start_at = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30) / max(n, 1)
    inbox.mkdir(parents=True, exist_ok=True)
    for start in range(0, n, ROWS_PER_FILE):
        lines = [HEADER]
        for i in range(start, min(n, start + ROWS_PER_FILE)):
            at = (start_at + step * i).isoformat(timespec="seconds")
            street = f"Jl. Bench{rng.randrange(2000):04d}"
            lines.append(
                f"b-{i},{at},Warga,0812-{i // 10000:04d}-{i % 10000:04d},"
                f"umum,{rng.choice(texts)} di {street},Gubeng,Kel{rng.randrange(30):02d}\n"
            )
        (inbox / f"calls-{start:07d}.csv").write_text("".join(lines), encoding="utf-8")


async def timed(label: str, n: int, work: Callable[[], Awaitable[None]]) -> float:
    """Run a stage over all N; print its rate by the wall clock and by this process's CPU time.

    The CPU-time rate is what one free core would do (SQLite runs in this process; PostgreSQL's
    and the simulator's work are not counted): on a shared, loaded machine the wall clock
    measures the neighbours too.
    """
    start, cpu = time.perf_counter(), time.process_time()
    await work()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    rate = n / elapsed
    print(
        f"  {label:<8} {rate:>9,.0f} complaints/s  ({elapsed:.1f} s; "
        f"{n / max(cpu, 1e-9):,.0f}/s of CPU time; peak {peak_mb():,.0f} MB)"
    )
    return elapsed


async def drain_stream(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


async def drain(worker: StageWorker) -> None:
    while await worker.run_once():
        pass


async def all_at_once(
    ingest: Callable[[], Coroutine[Any, Any, None]], workers: list[StageWorker]
) -> None:
    """Ingest and every stage worker concurrently in this one process, as `muara run` has them:
    each stage takes what the one before has committed, and what one waits on (SQLite's thread,
    the simulator's answers) another uses the CPU for. Each worker stops once the stage before
    it has stopped and it finds nothing left."""
    ingested = asyncio.Event()
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(ingest())]
    tasks[0].add_done_callback(lambda _: ingested.set())
    upstream_done = ingested
    for worker in workers:
        done = asyncio.Event()
        tasks.append(asyncio.create_task(_follow(worker, upstream_done, done)))
        upstream_done = done
    await asyncio.gather(*tasks)


async def _follow(worker: StageWorker, upstream: asyncio.Event, done: asyncio.Event) -> None:
    try:
        while True:
            finished_before = upstream.is_set()
            if not await worker.run_once():
                if finished_before:
                    return
                await asyncio.sleep(worker.settings.idle_seconds)
    finally:
        done.set()


async def run_backend(
    url: str, n: int, workdir: Path, duplicates: bool = True, together: bool = False
) -> None:
    engine = create_engine(url)
    await migrate(engine)
    store = Store(engine)
    metrics = Metrics()
    settings = WorkerSettings(batch_size=500, lease_seconds=300)
    source = SpoolSource(name="bench", path=workdir / "spool", stable_seconds=0)
    write_spool(source.path / "inbox", n)
    collector = SpoolCollector(source)
    sink = MeteredSink(store, metrics)
    model = load_model(ensure_starter_model(workdir / "models"))
    token, key = "bench-token", "bench-key"
    record = workdir / "filings.jsonl"
    simulator = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "muara",
        "lapor-sim",
        "--port",
        "0",
        "--token",
        token,
        "--key",
        key,
        "--record",
        str(record),
        stderr=asyncio.subprocess.PIPE,
    )
    assert simulator.stderr is not None
    said = b""
    while not (
        match := re.search(
            rb"simulator on (http://\S+):", line := await simulator.stderr.readline()
        )
    ):
        said += line
        if not line:  # it exited before it listened
            raise SystemExit(
                f"the LAPOR! simulator did not start:\n{said.decode(errors='replace')}"
            )
    simulator_url = match.group(1).decode()
    # Its log goes on being read, or a full pipe would stall it mid-run.
    stderr_drain = asyncio.create_task(drain_stream(simulator.stderr))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        lapor = LaporSettings(
            base_url=simulator_url,
            token=SecretStr(token),
            key=SecretStr(key),
            concurrency=32,
            rate_per_second=0,  # capacity, not the polite default towards the real LAPOR!
            institutions=default_institution_ids(STARTER_AGENCIES),
        )

        async def ingest() -> None:
            while any((source.path / "inbox").glob("*.csv")):
                await collector.poll(sink)

        def worker(stage: Stage) -> Callable[[], Awaitable[None]]:
            return lambda: drain(StageWorker(stage, store, settings))

        router = RouterSettings(
            auto_route_threshold=0, duplicates=DuplicateDetectionSettings(enabled=duplicates)
        )
        client = LaporClient(lapor, session)
        stages: list[Stage] = [
            ClassifyStage(store, lambda: model, metrics),
            RouteStage(store, router, metrics),
            FilingStage(store, client, lapor, metrics),
        ]
        freeze_startup_heap()  # as `muara run` does once started (heap.py)
        total = 0.0
        if together:
            start, cpu = time.perf_counter(), time.process_time()
            await all_at_once(ingest, [StageWorker(stage, store, settings) for stage in stages])
            total, cpu = time.perf_counter() - start, time.process_time() - cpu
            print(f"  CPU time {cpu:.1f} s, {n / max(cpu, 1e-9):,.0f} complaints/s of it")
        else:
            total += await timed("ingest", n, ingest)
            for stage in stages:
                total += await timed(stage.name, n, worker(stage))
    simulator.terminate()
    await simulator.wait()
    await stderr_drain
    with record.open("rb") as lines:
        filed = sum(1 for _ in lines)
    report = await store.status()
    await engine.dispose()
    states = report.by_state()
    exported = states.get("EXPORTED", 0)
    how = "all stages at once, as the daemon runs them" if together else "sum of the stage times"
    print(f"  {'end-to-end':<8} {n / total:>7,.0f} complaints/s  ({total:.1f} s; {how})")
    print(f"  final states: {', '.join(f'{k} {v:,}' for k, v in sorted(states.items()))}")
    print(f"  the simulator recorded {filed:,} filings for {exported:,} EXPORTED complaints")
    print(f"  peak memory {peak_mb():,.0f} MB")
    # REVIEW is a routing outcome (the starter model's local-office role always goes to a
    # coordinator); nothing may be left mid-flow, and every export is filed exactly once.
    stuck = sum(states.get(s, 0) for s in ("NEW", "CLASSIFIED", "ROUTED"))
    if filed != exported or stuck or sum(states.values()) != n:
        raise SystemExit("complaints lost, stuck or filed more than once")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="complaints to push through")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--no-duplicates", action="store_true", help="route without duplicate detection"
    )
    parser.add_argument(
        "--mode",
        choices=["stages", "together", "both"],
        default="both",
        help="each stage alone over all N (per-stage rates), all at once as the daemon runs "
        "them, or both (each in a process of its own, so each has its own peak memory)",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if args.mode == "both" or len(backends) > 1:
        modes = ["stages", "together"] if args.mode == "both" else [args.mode]
        for backend in backends:
            for mode in modes:
                command = [sys.executable, __file__, "-n", str(args.n), "--backend", backend]
                command += ["--mode", mode] + (["--no-duplicates"] if args.no_duplicates else [])
                process = await asyncio.create_subprocess_exec(*command)
                if await process.wait():
                    return 1
        return 0
    for backend in backends:
        workdir = Path(tempfile.mkdtemp(prefix="muara-bench-"))
        detection = "off" if args.no_duplicates else "on"
        together = args.mode == "together"
        how = "all stages at once" if together else "one stage at a time"
        print(
            f"{backend}: {args.n:,} complaints, duplicate detection {detection}, {how}", flush=True
        )
        try:
            if backend == "sqlite":
                sqlite = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
                await run_backend(sqlite, args.n, workdir, not args.no_duplicates, together)
            else:
                name = f"muara_bench_{uuid.uuid4().hex[:8]}"
                admin = await asyncpg.connect(PG_ADMIN)
                await admin.execute(f'CREATE DATABASE "{name}"')
                try:
                    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
                    await run_backend(url, args.n, workdir, not args.no_duplicates, together)
                finally:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    await admin.close()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
