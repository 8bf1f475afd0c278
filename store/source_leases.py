"""One replica reads a source at a time (DESIGN.md, Scale-out): no home-made coordination.

PostgreSQL: a session-level advisory lock per source, all held on one connection of the replica's
own (outside the pool, so a lock never lingers on a pooled connection that is handed back). When
the holding replica dies its socket closes, PostgreSQL ends the session and drops its locks at
once, and the next replica that asks (every `workers.takeover_seconds`) gets them.

A replica that hangs without dying (a blocked event loop, SIGSTOP, a lost network) would keep an
advisory lock for ever: the lock connection therefore carries `idle_session_timeout =
workers.stall_seconds`, and a heartbeat pings it four times as often. When the heartbeat stops,
PostgreSQL ends the session after `stall_seconds` and the sources are taken over. A replica that
wakes up finds its connection gone, logs that it lost its sources and stands by; what it was
reading meanwhile is harmless, as the store keeps every input once (by its external key).

SQLite: one daemon per store (see `SqliteProcessLock`), so every source is ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from muara.store.engine import is_sqlite

log = logging.getLogger(__name__)

DEFAULT_STALL_SECONDS = 60.0
IDLE_SESSION_TIMEOUT_SINCE = 140000  # server_version_num of PostgreSQL 14


class SourceLeases(Protocol):
    """Who may read which source."""

    async def hold(self, source: str) -> bool:
        """True while this process may read `source` (acquiring it if free)."""
        ...

    async def close(self) -> None:
        """Give every source back (shutdown)."""
        ...


def advisory_key(source: str) -> int:
    """A stable signed 64-bit lock key for a source name (the same in every replica)."""
    digest = hashlib.blake2b(f"muara:source:{source}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AlwaysHeld:
    """SQLite: the process lock already guarantees a single reader of every source."""

    async def hold(self, source: str) -> bool:
        """Every source is ours."""
        return True

    async def close(self) -> None:
        """Nothing to give back."""


class AdvisoryLeases:
    """PostgreSQL advisory locks on one lock connection per replica, kept alive by a heartbeat.

    Source names are the configured names (never personal data), so they may be logged.
    """

    def __init__(self, engine: AsyncEngine, *, stall_seconds: float = DEFAULT_STALL_SECONDS):
        # A pool-less engine of our own: closing its connection really ends the session.
        self._engine = create_async_engine(
            engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT"
        )
        self.stall_seconds = stall_seconds
        self.held: set[str] = set()
        self._conn: AsyncConnection | None = None
        self._standing_by: set[str] = set()  # sources we asked for and another replica had
        self._lock = asyncio.Lock()  # one statement at a time on the lock connection
        self._heartbeat: asyncio.Task[None] | None = None
        self._warned_old_server = False

    async def hold(self, source: str) -> bool:
        """Check the lock we hold is still alive, or try to take it."""
        async with self._lock:
            if source in self.held:
                return await self._alive()
            conn = await self._connection()
            try:
                async with asyncio.timeout(self.stall_seconds / 2):
                    got = await conn.scalar(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(source)}
                    )
            except Exception as err:  # noqa: BLE001 - any failure: the session is not ours
                await self._lost(err)
                return False
            if not got:
                self._standing_by.add(source)
                return False
            self.held.add(source)
            if source in self._standing_by:
                self._standing_by.discard(source)
                log.info("source %s taken over: its previous reader is gone", source)
            else:
                log.info("this replica now reads source %s", source)
            return True

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            conn = await self._engine.connect()
            try:
                # PostgreSQL ends the session (dropping its locks) once it idles this long: the
                # heartbeat keeps a live replica well inside it, a hung one falls out of it.
                version = int(await conn.scalar(text("SHOW server_version_num")) or 0)
                if version >= IDLE_SESSION_TIMEOUT_SINCE:
                    await conn.execute(
                        text("SELECT set_config('idle_session_timeout', :ms, false)"),
                        {"ms": str(int(self.stall_seconds * 1000))},
                    )
                elif not self._warned_old_server:
                    self._warned_old_server = True
                    log.warning(
                        "PostgreSQL %s has no idle_session_timeout (14+): a hung replica keeps "
                        "its sources until it is restarted",
                        version,
                    )
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._beat(), name="source-leases-heartbeat")
        return self._conn

    async def _alive(self) -> bool:
        """Ping the lock connection (the caller holds `_lock`); False once it is gone."""
        if self._conn is None:
            return False
        try:
            async with asyncio.timeout(self.stall_seconds / 2):
                await self._conn.execute(text("SELECT 1"))
        except Exception as err:  # noqa: BLE001 - any failure: the session is not ours
            await self._lost(err)
            return False
        return True

    async def _lost(self, err: BaseException) -> None:
        """The lock session is gone (or cannot be trusted): so is every lock on it."""
        for source in sorted(self.held):
            # Another replica may read it now (PostgreSQL dropped the lock with the session).
            log.warning("lost the lease on source %s (%s)", source, type(err).__name__)
        self.held.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()

    async def _beat(self) -> None:
        """Show PostgreSQL this replica is alive (a standby's session too, so that its next
        attempt does not find the session ended for idling)."""
        while True:
            await asyncio.sleep(self.stall_seconds / 4)
            async with self._lock:
                if self._conn is not None:
                    await self._alive()

    async def close(self) -> None:
        """Unlock everything and end the lock session; PostgreSQL would drop the locks anyway."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        async with self._lock:
            conn, self._conn = self._conn, None
            self.held.clear()
            if conn is not None:
                try:
                    await conn.execute(text("SELECT pg_advisory_unlock_all()"))
                    await conn.close()
                except Exception:  # noqa: BLE001 - closing the socket drops the locks too
                    with contextlib.suppress(Exception):
                        await conn.invalidate()
        await self._engine.dispose()


def source_leases(
    engine: AsyncEngine, *, stall_seconds: float = DEFAULT_STALL_SECONDS
) -> SourceLeases:
    """The lease mechanism the store's backend offers."""
    if is_sqlite(engine):
        return AlwaysHeld()
    return AdvisoryLeases(engine, stall_seconds=stall_seconds)


class AnotherDaemonError(RuntimeError):
    """A second daemon was started on a SQLite store."""


class SqliteProcessLock:
    """An exclusive lock file next to the SQLite database: one daemon per embedded store."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise `AnotherDaemonError` naming the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AnotherDaemonError(
                f"another muara daemon (pid {holder}) is running on {self.path.with_suffix('')}; "
                "SQLite allows one: use PostgreSQL (store.url) to run replicas"
            ) from err
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        """Give the lock back (the OS does it too if the process dies)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
