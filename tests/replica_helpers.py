"""Running several `muara run` replicas on one PostgreSQL store, for tests/test_replicas.py and
bench/replicas.py: their config, who holds which source (from their logs), the store's tally."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from muara.classify.starter import STARTER_AGENCIES
from muara.domain import State
from muara.exporters.lapor.simulator import default_institution_ids
from muara.store.engine import create_engine
from muara.store.tables import complaints
from tests.processes import MuaraProcess

TOKEN, KEY = "replica-token", "replica-key"
HEADER = "call_id,started_at,caller_name,caller_number,category,summary,district,subdistrict\n"
TEXTS = [
    "jalan berlubang besar di depan pasar mohon segera diperbaiki",
    "sampah tidak diangkut sudah seminggu bau sekali",
    "air PDAM mati sejak kemarin pagi",
    "lampu penerangan jalan mati di gang tiga",
]
# Complaints still on their way through the stages; none may be left once everything drained.
IN_FLIGHT = (State.NEW.value, State.CLASSIFIED.value, State.ROUTED.value)

_HOLDS = re.compile(r"this replica now reads source (\S+)|source (\S+) taken over")
_LOSES = re.compile(r"lost the lease on source (\S+)")


def replica_config(
    path: Path,
    store_url: str,
    lapor_url: str,
    *,
    spool: Path,
    takeover_seconds: float,
    stall_seconds: float = 60.0,
    extra: str = "",
    batch_size: int = 50,
    lease_seconds: float = 5.0,
    lapor_concurrency: int = 8,
) -> Path:
    """One config every replica shares (each gets its own data_dir and port by environment)."""
    mapping = ", ".join(
        f"{code} = {ident}" for code, ident in default_institution_ids(STARTER_AGENCIES).items()
    )
    path.write_text(
        f"""
log_level = "INFO"

[store]
url = "{store_url}"

[http]
port = 0

[workers]
batch_size = {batch_size}
lease_seconds = {lease_seconds}
idle_seconds = 0.1
shutdown_timeout = 5
takeover_seconds = {takeover_seconds}
stall_seconds = {stall_seconds}

[[spool]]
name = "cc"
path = "{spool}"
poll_seconds = 0.2
stable_seconds = 0

[router]
auto_route_threshold = 0.0

[lapor]
base_url = "{lapor_url}"
timeout_seconds = 5
concurrency = {lapor_concurrency}
rate_per_second = 0
reconcile_after_seconds = 6
retry_seconds = 0.5
sync_enabled = false
institutions = {{ {mapping} }}
{extra}
""",
        encoding="utf-8",
    )
    return path


def spool_rows(start: int, count: int, prefix: str = "r") -> str:
    """A call-center CSV export of rows `start`..`start + count - 1` (call ids `{prefix}-N`)."""
    rows = [
        f"{prefix}-{n},2026-11-20T08:{n % 60:02d}:00+07:00,Warga {n},"
        f"0812-{n // 10000:04d}-{n % 10000:04d},umum,{TEXTS[n % len(TEXTS)]} nomor {n},Gubeng,\n"
        for n in range(start, start + count)
    ]
    return HEADER + "".join(rows)


def drop(spool: Path, name: str, content: str) -> None:
    """Put an export into the inbox whole (written beside it, then renamed in)."""
    staging = spool / f".{name}.part"
    staging.write_text(content, encoding="utf-8")
    staging.replace(spool / "inbox" / name)


@dataclass(eq=False)  # compared by identity: one object per process
class Replica:
    """One `muara run` process and what its log says it holds."""

    name: str
    process: MuaraProcess
    ops_url: str = ""  # its /metrics, /readyz
    _seen: int = 0
    held: set[str] = field(default_factory=set)
    # When (time.monotonic(), as this test saw the line) each source was last acquired.
    acquired_at: dict[str, float] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        return self.process.process.returncode is None

    def refresh(self) -> None:
        """Read the log lines that came in since the last call."""
        lines = self.process.lines
        now = time.monotonic()
        for line in lines[self._seen :]:
            if holds := _HOLDS.search(line):
                source = holds.group(1) or holds.group(2)
                self.held.add(source)
                self.acquired_at[source] = now
            elif loses := _LOSES.search(line):
                self.held.discard(loses.group(1))
        self._seen = len(lines)


async def start_replica(
    name: str, config: Path, workdir: Path, env: Mapping[str, str] | None = None
) -> Replica:
    """Start `muara run` with its own data folder; return once it serves HTTP."""
    process = await MuaraProcess.start(
        "--config",
        str(config),
        "run",
        env={
            "MUARA_LAPOR__TOKEN": TOKEN,
            "MUARA_LAPOR__KEY": KEY,
            "MUARA_DATA_DIR": str(workdir / f"data-{name}"),
            **(env or {}),
        },
    )
    started = await process.wait_for_line(r"muara started: metrics (http://\S+)/metrics", 120)
    return Replica(name, process, started.group(1))


async def start_simulator(record: Path, latency_ms: int = 0) -> tuple[MuaraProcess, str]:
    """`muara lapor-sim` in its own process (LAPOR! is not on our CPU); its URL."""
    sim = await MuaraProcess.start(
        "lapor-sim",
        "--port",
        "0",
        "--token",
        TOKEN,
        "--key",
        KEY,
        "--record",
        str(record),
        "--latency-ms",
        str(latency_ms),
    )
    url = (await sim.wait_for_line(r"simulator on (http://\S+):")).group(1)
    return sim, url


async def wait_for_holders(
    replicas: list[Replica], sources: set[str], timeout: float = 120
) -> dict[str, Replica]:
    """Wait until every source is held by a living replica; who holds which."""
    async with asyncio.timeout(timeout):
        while True:
            holders: dict[str, Replica] = {}
            for replica in replicas:
                replica.refresh()
                if replica.alive:
                    holders.update({source: replica for source in replica.held & sources})
            if set(holders) == sources:
                return holders
            await asyncio.sleep(0.05)


async def takeover(
    victim: Replica, others: list[Replica], timeout: float = 120
) -> dict[str, tuple[str, float]]:
    """SIGKILL `victim`; per source it held: the replica that took it over and after how long
    (from the kill to this process reading the takeover line)."""
    for replica in others:
        replica.refresh()
    lost = set(victim.held)
    killed = time.monotonic()
    await victim.process.kill()
    taken: dict[str, tuple[str, float]] = {}
    async with asyncio.timeout(timeout):
        while set(taken) != lost:
            for replica in others:
                replica.refresh()
                for source in lost & replica.held:
                    at = replica.acquired_at[source]
                    if source not in taken and at >= killed:
                        taken[source] = (replica.name, at - killed)
            await asyncio.sleep(0.02)
    return taken


def filings(record: Path) -> list[dict[str, Any]]:
    """Every filing the simulator recorded (a line per filing)."""
    if not record.exists():
        return []
    lines = record.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def references(filed: list[dict[str, Any]]) -> list[str]:
    """Our `#MUARA-<id>` reference of each filing."""
    return [
        tag
        for entry in filed
        for tag in str(entry["body"]["tags_raw"]).split()
        if tag.startswith("#MUARA-")
    ]


async def tally(store_url: str) -> tuple[dict[str, list[str]], dict[str, int]]:
    """The stored source ids per channel (one per row), and the complaints by state."""
    engine = create_engine(store_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(complaints.c.channel, complaints.c.source_id))
            by_channel: dict[str, list[str]] = {}
            for channel, source_id in rows:
                by_channel.setdefault(channel, []).append(source_id)
            states = await conn.execute(
                select(complaints.c.state, func.count()).group_by(complaints.c.state)
            )
            by_state = {state: int(count) for state, count in states}
    finally:
        await engine.dispose()
    return by_channel, by_state


async def exported_ids(store_url: str) -> set[str]:
    """The LAPOR! ids of the EXPORTED complaints."""
    engine = create_engine(store_url)
    try:
        async with engine.connect() as conn:
            ids = await conn.execute(
                select(complaints.c.lapor_id).where(complaints.c.state == State.EXPORTED.value)
            )
            return {str(value) for value in ids.scalars()}
    finally:
        await engine.dispose()
