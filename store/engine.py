"""Opening the store: one URL picks SQLite (embedded) or PostgreSQL (production, scale-out)."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)


class StoreConfigError(ValueError):
    """A store URL that names no usable backend."""


def is_sqlite(engine: AsyncEngine) -> bool:
    """SQLite allows one writer: stages run one worker each and there is no SKIP LOCKED."""
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (status, /metrics) run while a stage writes; NORMAL sync is durable in WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Create the async engine for `url`, with SQLite's pragmas and its folder in place."""
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise StoreConfigError(f"store.url is not a database URL: {err}") from err
    backend = parsed.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise StoreConfigError(
            f"store.url: unsupported database {backend!r} (use sqlite+aiosqlite or "
            "postgresql+asyncpg)"
        )
    kwargs: dict[str, Any] = {"echo": echo}
    if backend == "sqlite":
        if parsed.get_driver_name() != "aiosqlite":
            raise StoreConfigError("store.url: SQLite needs the async driver: sqlite+aiosqlite://")
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        if parsed.get_driver_name() != "asyncpg":
            raise StoreConfigError(
                "store.url: PostgreSQL needs the async driver: postgresql+asyncpg://"
            )
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _alembic_config() -> Config:
    ini = resources.files("muara.store").joinpath("alembic.ini")
    cfg = Config(str(ini))
    cfg.set_main_option(
        "script_location", str(resources.files("muara.store").joinpath("migrations"))
    )
    return cfg


def _revision_label(heads: tuple[str, ...] | list[str]) -> str | None:
    return "+".join(sorted(heads)) or None


def _current_revision(connection: Connection) -> str | None:
    return _revision_label(MigrationContext.configure(connection).get_current_heads())


def head_revision() -> str | None:
    """The newest migration(s) this release ships, as one label ("a+b" for parallel branches)."""
    return _revision_label(ScriptDirectory.from_config(_alembic_config()).get_heads())


async def current_revision(engine: AsyncEngine) -> str | None:
    """The migration(s) the store is at (None: an empty store)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


async def migrate(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """Apply every pending migration; return (revision before, revision after)."""
    cfg = _alembic_config()

    def upgrade(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")

    before = await current_revision(engine)
    async with engine.begin() as connection:
        await connection.run_sync(upgrade)
    after = await current_revision(engine)
    if before != after:
        log.info("store migrated from %s to %s", before or "empty", after)
    return before, after
