"""One replica reads a source at a time; SQLite refuses a second daemon."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from muara.store.engine import create_engine
from muara.store.source_leases import (
    AdvisoryLeases,
    AnotherDaemonError,
    SqliteProcessLock,
    advisory_key,
)
from tests.processes import REPO, MuaraProcess


def test_the_lock_key_is_stable_and_distinct_per_source() -> None:
    assert advisory_key("imap:aduan") == advisory_key("imap:aduan")
    assert advisory_key("imap:aduan") != advisory_key("x:mentions")
    assert -(2**63) <= advisory_key("spool") < 2**63


async def test_a_source_is_held_by_one_replica_and_taken_over_when_it_goes(
    pg_database: str,
) -> None:
    engines = [create_engine(pg_database) for _ in range(2)]
    first, second = (AdvisoryLeases(engine) for engine in engines)
    try:
        assert await first.hold("spool:cc")
        assert await first.hold("spool:cc"), "holding is re-entrant for the holder"
        assert not await second.hold("spool:cc")
        assert await second.hold("spool:other"), "sources are independent"
        await first.close()  # the holder goes away (a dead process closes its connections)
        assert await second.hold("spool:cc")
        assert not await first.hold("spool:cc")
    finally:
        await first.close()
        await second.close()
        for engine in engines:
            await engine.dispose()


async def test_the_heartbeat_keeps_a_source_through_a_long_poll(pg_database: str) -> None:
    """A holder busy in one long poll (an IMAP IDLE) asks nothing for minutes: its lock session
    must outlive `stall_seconds` all the same."""
    engines = [create_engine(pg_database) for _ in range(2)]
    holder = AdvisoryLeases(engines[0], stall_seconds=3)
    standby = AdvisoryLeases(engines[1], stall_seconds=3)
    try:
        assert await holder.hold("imap:aduan")
        await asyncio.sleep(7)  # over twice stall_seconds without a call to hold()
        assert not await standby.hold("imap:aduan")
        assert await holder.hold("imap:aduan")
    finally:
        await holder.close()
        await standby.close()
        for engine in engines:
            await engine.dispose()


async def _line(stream: asyncio.StreamReader, timeout: float = 60) -> str:
    async with asyncio.timeout(timeout):
        return (await stream.readline()).decode().strip()


async def test_a_hung_replica_loses_its_source_after_stall_seconds(pg_database: str) -> None:
    """SIGSTOP (a hung replica: its socket stays open, so PostgreSQL sees no disconnect): the
    lock session idles out after stall_seconds and a standby takes the source over; once the
    hung replica runs again it finds it lost the source."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.helpers.lease_holder",
        pg_database,
        "spool:cc",
        "2",
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    engine = create_engine(pg_database)
    standby = AdvisoryLeases(engine, stall_seconds=2)
    try:
        assert holder.stdout is not None
        assert await _line(holder.stdout) == "held"
        assert not await standby.hold("spool:cc")
        holder.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        async with asyncio.timeout(60):
            while not await standby.hold("spool:cc"):
                await asyncio.sleep(0.1)
        print(f"hung holder (stall_seconds 2) taken over after {time.monotonic() - stopped:.1f} s")
        holder.send_signal(signal.SIGCONT)
        assert await _line(holder.stdout) == "lost"
        assert await standby.hold("spool:cc")
    finally:
        if holder.returncode is None:
            holder.send_signal(signal.SIGCONT)
            holder.kill()
        await holder.wait()
        await standby.close()
        await engine.dispose()


def test_a_second_lock_on_the_same_sqlite_store_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "muara.db"
    first = SqliteProcessLock(database)
    first.acquire()
    try:
        with pytest.raises(AnotherDaemonError, match="use PostgreSQL"):
            SqliteProcessLock(database).acquire()
    finally:
        first.release()
    again = SqliteProcessLock(database)
    again.acquire()
    again.release()


async def test_a_second_daemon_on_one_sqlite_store_exits_with_a_clear_error(
    tmp_path: Path,
) -> None:
    env = {"MUARA_HTTP__PORT": "0"}
    first = await MuaraProcess.start("run", cwd=tmp_path, env=env)
    try:
        await first.wait_for_line(r"muara started")
        second = await MuaraProcess.start("run", cwd=tmp_path, env=env)
        async with asyncio.timeout(60):
            code = await second.process.wait()
        await second.stop(0)
        assert code == 1
        assert any("another muara daemon" in line for line in second.lines)
        assert await first.stop(signal.SIGTERM) == 0
    finally:
        await first.kill()
