"""Shared fixtures: a fresh store per test on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.logs import HANDLER_NAME
from muara.store.engine import create_engine, migrate
from muara.store.repository import Store
from muara.testing import FakeClock
from tests.pii_scan import pii_log_scan  # noqa: F401  (autouse: every test's logs are scanned)

# Trust auth on loopback, as on the development machine and in CI (.ci/run starts it).
PG_ADMIN_DSN = os.environ.get("MUARA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


def _pg_url(database: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_template(worker_id: str) -> Iterator[str]:
    """One migrated database per xdist worker, cloned for each test (fast, isolated)."""
    name = f"muara_tpl_{worker_id}_{uuid.uuid4().hex[:6]}"

    async def build() -> None:
        await _admin(f'CREATE DATABASE "{name}"')
        engine = create_engine(_pg_url(name))
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(build())
    yield name
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_database(pg_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test; its URL."""
    name = f"muara_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield _pg_url(name)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty store URL on each backend."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_database")
        return url
    url = f"sqlite+aiosqlite:///{tmp_path / 'muara.db'}"

    async def build() -> None:
        engine = create_engine(url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(build())
    return url


@pytest.fixture
async def engine(store_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the fresh store, disposed after the test."""
    engine = create_engine(store_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    """The test's clock; move it with `clock.advance(seconds)`."""
    return FakeClock()


@pytest.fixture
def store(engine: AsyncEngine, clock: FakeClock) -> Store:
    """The store on the fresh database, on the fake clock."""
    return Store(engine, clock=clock)


@pytest.fixture(autouse=True)
def no_leaked_log_handler() -> Iterator[None]:
    """`muara.cli.main` puts a stderr handler on the root logger; it must not outlive the test
    whose captured stderr it writes to (later tests' log lines would fail on the closed file)."""
    yield
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != HANDLER_NAME]
