"""One replica reads a source at a time; SQLite refuses a second daemon."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from muara.store.engine import create_engine
from muara.store.source_leases import (
    AdvisoryLeases,
    AnotherDaemonError,
    SqliteProcessLock,
    advisory_key,
)
from tests.processes import MuaraProcess


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
