"""Replicas on one PostgreSQL: end-to-end throughput with 1, 2 and 3 `muara run` processes, and
how long a source takes to move to another replica when its reader dies or hangs.

    python bench/replicas.py                       # 20,000 complaints per run; 5 kills, 1 hang
    python bench/replicas.py -n 5000 --replicas 1 3 --kills 3 --takeover-seconds 1

Throughput: a fresh database per run, N real `muara run` replicas (subprocesses) and the LAPOR!
simulator (`muara lapor-sim`, a process of its own, no added latency). The clock starts when the
call-center export (N rows) is dropped into the spool and stops when every complaint has left the
pipeline and the simulator holds one filing per EXPORTED complaint. One replica reads the spool
(source lease); classify, route and export are shared by all replicas (SKIP LOCKED leases).
Every replica, the simulator, PostgreSQL and this script share the machine's cores: on a 2-core
machine the replicas compete for CPU rather than add it.

Failover: three replicas on a spool; SIGKILL the replica that reads it and time until another one
logs that it took the source over (as this script sees the line), `--kills` times (a fresh replica
replaces each killed one). Then SIGSTOP the reader (a hung process: its connection stays open) and
time the takeover again; it waits for `stall_seconds`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from muara.store.engine import create_engine, migrate
from muara.store.tables import complaints
from tests.processes import MuaraProcess
from tests.replica_helpers import (
    IN_FLIGHT,
    Replica,
    drop,
    filings,
    replica_config,
    spool_rows,
    start_replica,
    start_simulator,
    takeover,
    wait_for_holders,
)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ROWS_PER_FILE = 5_000


class Database:
    """A fresh, migrated PostgreSQL database for one run."""

    def __init__(self) -> None:
        self.name = f"muara_bench_{uuid.uuid4().hex[:8]}"
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.name}"

    async def __aenter__(self) -> Database:
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await admin.close()
        engine = create_engine(self.url)
        try:
            await migrate(engine)  # before the replicas: they refuse an old schema, not race on it
        finally:
            await engine.dispose()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await admin.close()


async def stop_all(replicas: list[Replica], sim: MuaraProcess | None) -> None:
    for replica in replicas:
        if replica.alive:
            replica.process.process.send_signal(signal.SIGCONT)
            await replica.process.stop(signal.SIGTERM)
    if sim is not None:
        await sim.kill()


def cpu_seconds(process: MuaraProcess) -> float:
    """CPU time (user + system) the process has used so far, from /proc."""
    fields = Path(f"/proc/{process.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def processed(replica: Replica) -> dict[str, float]:
    """The replica's `muara_stage_processed_total` by stage (who did how much of the work)."""
    async with aiohttp.ClientSession() as http, http.get(f"{replica.ops_url}/metrics") as resp:
        text = await resp.text()
    found = re.findall(r'muara_stage_processed_total\{stage="(\w+)"\} (\S+)', text)
    return {stage: float(value) for stage, value in found}


async def throughput(count: int, n: int, workdir: Path, takeover_seconds: float) -> float:
    """Complaints/s end to end with `count` replicas; prints the run's line."""
    record = workdir / "filings.jsonl"
    spool = workdir / "spool"
    (spool / "inbox").mkdir(parents=True)
    replicas: list[Replica] = []
    sim: MuaraProcess | None = None
    async with Database() as database:
        engine = create_engine(database.url)
        try:
            sim, lapor_url = await start_simulator(record)
            config = replica_config(
                workdir / "muara.toml",
                database.url,
                lapor_url,
                spool=spool,
                takeover_seconds=takeover_seconds,
                batch_size=200,
                lease_seconds=60,
                lapor_concurrency=16,
            )
            for index in range(count):
                replicas.append(await start_replica(f"r{index}", config, workdir))
            await wait_for_holders(replicas, {"cc"})
            cpu_before = sum(cpu_seconds(replica.process) for replica in replicas)
            started = time.perf_counter()
            for start in range(0, n, ROWS_PER_FILE):
                rows = spool_rows(start, min(ROWS_PER_FILE, n - start), prefix="b")
                drop(spool, f"calls-{start:07d}.csv", rows)
            while True:
                await asyncio.sleep(0.5)
                async with engine.connect() as conn:
                    result = await conn.execute(
                        select(complaints.c.state, func.count()).group_by(complaints.c.state)
                    )
                    states = {str(state): int(count) for state, count in result}
                stuck = sum(states.get(state, 0) for state in IN_FLIGHT)
                if sum(states.values()) == n and not stuck:
                    filed = len(filings(record))
                    if filed == states.get("EXPORTED", 0):
                        break
                for replica in replicas:
                    if not replica.alive:
                        raise SystemExit("\n".join(replica.process.lines[-20:]))
            elapsed = time.perf_counter() - started
            shares = [await processed(replica) for replica in replicas]
            cpu = sum(cpu_seconds(replica.process) for replica in replicas) - cpu_before
        finally:
            await engine.dispose()
            await stop_all(replicas, sim)
    exported = [int(share.get("export", 0)) for share in shares]
    others = ", ".join(
        f"{count:,} {state}" for state, count in states.items() if state != "EXPORTED"
    )
    rate = n / elapsed
    print(
        f"  {count} replica(s)  {rate:>7,.0f} complaints/s  ({elapsed:5.1f} s; "
        f"{states.get('EXPORTED', 0):,} filed once, {others or 'nothing else'}; "
        f"filed per replica {' / '.join(f'{e:,}' for e in exported)}; "
        f"replicas' CPU {cpu / n * 1000:.2f} s per 1,000)",
        flush=True,
    )
    return rate


async def failover(kills: int, workdir: Path, takeover_seconds: float, stall: float) -> None:
    """Time takeovers after SIGKILL (`kills` times) and after SIGSTOP (once)."""
    spool = workdir / "spool"
    (spool / "inbox").mkdir(parents=True)
    replicas: list[Replica] = []
    sim: MuaraProcess | None = None
    async with Database() as database:
        try:
            sim, lapor_url = await start_simulator(workdir / "filings.jsonl")
            config = replica_config(
                workdir / "muara.toml",
                database.url,
                lapor_url,
                spool=spool,
                takeover_seconds=takeover_seconds,
                stall_seconds=stall,
            )
            for index in range(3):
                replicas.append(await start_replica(f"r{index}", config, workdir))
            killed: list[float] = []
            rng = random.Random(9)
            for index in range(kills):
                holder = (await wait_for_holders(replicas, {"cc"}))["cc"]
                others = [r for r in replicas if r is not holder and r.alive]
                # Kill at a random point of the standbys' rhythm (they ask every takeover_seconds).
                await asyncio.sleep(takeover_seconds + rng.uniform(0, takeover_seconds))
                killed.append((await takeover(holder, others))["cc"][1])
                replicas.append(await start_replica(f"r{3 + index}", config, workdir))
            holder = (await wait_for_holders(replicas, {"cc"}))["cc"]
            others = [r for r in replicas if r is not holder and r.alive]
            holder.process.process.send_signal(signal.SIGSTOP)
            stopped = time.monotonic()
            async with asyncio.timeout(stall * 4 + 120):
                while not any("cc" in r.held for r in others):
                    for replica in others:
                        replica.refresh()
                    await asyncio.sleep(0.02)
            hung = time.monotonic() - stopped
            holder.process.process.send_signal(signal.SIGCONT)
            await holder.process.wait_for_line(r"lost the lease on source cc", 120)
        finally:
            await stop_all(replicas, sim)
    print(
        f"  SIGKILL of the reader ({kills}x): taken over after median "
        f"{statistics.median(killed):.2f} s, min {min(killed):.2f} s, max {max(killed):.2f} s "
        f"(takeover_seconds {takeover_seconds:g})"
    )
    print(
        f"  SIGSTOP of the reader (hung):  taken over after {hung:.2f} s "
        f"(stall_seconds {stall:g}); once resumed it logged that it lost the source"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="complaints per throughput run")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs timed (0: no failover)")
    parser.add_argument("--takeover-seconds", type=float, default=5.0)
    parser.add_argument("--stall-seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"PostgreSQL, {args.n:,} call-center complaints per run, spool -> LAPOR! simulator")
    rates: dict[int, float] = {}
    for count in args.replicas:
        workdir = Path(tempfile.mkdtemp(prefix="muara-replicas-"))
        try:
            rates[count] = await throughput(count, args.n, workdir, args.takeover_seconds)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.kills:
        print("failover (three replicas, one spool source):")
        workdir = Path(tempfile.mkdtemp(prefix="muara-failover-"))
        try:
            await failover(args.kills, workdir, args.takeover_seconds, args.stall_seconds)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
