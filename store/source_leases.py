"""One replica reads a source at a time (DESIGN.md, Scale-out): no home-made coordination.

PostgreSQL: a session-level advisory lock per source, held on a connection of its own. When the
holding replica dies its connection closes, PostgreSQL drops the lock, and the next replica that
asks gets it. SQLite: one daemon per store (see `SqliteProcessLock`), so every source is ours.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muara.store.engine import is_sqlite

log = logging.getLogger(__name__)


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
    """PostgreSQL advisory locks, one held connection per source this replica reads."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.held: dict[str, AsyncConnection] = {}

    async def hold(self, source: str) -> bool:
        """Check the lock we hold is still alive, or try to take it."""
        conn = self.held.get(source)
        if conn is not None:
            try:
                await conn.execute(text("SELECT 1"))
            except (SQLAlchemyError, OSError) as err:
                # The connection (and with it the lock) is gone: another replica may read now.
                log.warning("lost the lease on source %s (%s)", source, type(err).__name__)
                await self._drop(source)
                return False
            return True
        conn = await self.engine.connect()
        try:
            got = await conn.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(source)}
            )
            await conn.commit()
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self.held[source] = conn
        log.info("this replica now reads source %s", source)
        return True

    async def _drop(self, source: str) -> None:
        conn = self.held.pop(source, None)
        if conn is None:
            return
        try:
            # Closing only returns the connection to the pool, where a session lock would live
            # on: unlock explicitly, and discard the connection if it cannot be trusted.
            await conn.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(source)}
            )
            await conn.commit()
            await conn.close()
        except (SQLAlchemyError, OSError):
            await conn.invalidate()

    async def close(self) -> None:
        """Close every held connection; PostgreSQL releases the locks with them."""
        for source in list(self.held):
            await self._drop(source)


def source_leases(engine: AsyncEngine) -> SourceLeases:
    """The lease mechanism the store's backend offers."""
    return AlwaysHeld() if is_sqlite(engine) else AdvisoryLeases(engine)


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
