"""Fixtures of the fault suite: a private PostgreSQL cluster that a test may restart.

The machine's PostgreSQL serves every other test running in parallel, so it is never touched:
the restart test gets a cluster of its own (initdb + pg_ctl as the `postgres` user, since initdb
refuses root) on a free loopback port with trust auth, in a folder removed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from muara.classify.starter import ensure_starter_model
from muara.store.engine import create_engine, migrate

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USER = "postgres"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PrivatePostgres:
    """One PostgreSQL cluster of our own: start, stop and restart it at will."""

    root: Path
    port: int

    @property
    def data(self) -> Path:
        """The cluster's data folder."""
        return self.root / "data"

    def _pg_ctl(self, *args: str, timeout: float = 60) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        subprocess.run(
            [
                "runuser", "-u", USER, "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data),
                "-l", str(self.root / "server.log"), "-o", options, "-w", "-t", "60", *args,
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._pg_ctl("start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends open sessions as a planned restart does; `immediate`
        is a crash (no checkpoint, recovery on the next start)."""
        self._pg_ctl("stop", "-m", mode)

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection of the daemon is cut."""
        self._pg_ctl("restart", "-m", "fast")

    def admin_dsn(self, database: str = "postgres") -> str:
        """An asyncpg DSN."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        """A store URL."""
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        """The server's log, for a failing test's message."""
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _create(cluster: PrivatePostgres) -> None:
    account = pwd.getpwnam(USER)
    cluster.root.chmod(0o700)
    os.chown(cluster.root, account.pw_uid, account.pw_gid)
    subprocess.run(
        [
            "runuser", "-u", USER, "--", str(PG_BIN / "initdb"), "-D", str(cluster.data),
            "--auth=trust", f"--username={USER}", "--encoding=UTF8", "--locale=C.UTF-8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A private cluster for this test process; stopped and removed at the end of the session."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL server binaries in {PG_BIN}")
    if os.geteuid() != 0:
        pytest.skip("running initdb as the postgres user needs root (runuser)")
    # Short and outside pytest's deep temp folders: the Unix socket path must stay short.
    cluster = PrivatePostgres(Path(tempfile.mkdtemp(prefix="muara-pg-")), _free_port())
    try:
        _create(cluster)
        cluster.start()
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists():
            try:
                cluster.stop()
            except subprocess.SubprocessError:
                subprocess.run(
                    ["runuser", "-u", USER, "--", str(PG_BIN / "pg_ctl"), "-D", str(cluster.data),
                     "stop", "-m", "immediate"],
                    check=False,
                    capture_output=True,
                )  # fmt: skip
        shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture
def private_store_url(private_postgres: PrivatePostgres) -> Iterator[str]:
    """A fresh, migrated database on the private cluster; dropped after the test."""
    name = f"muara_f_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(private_postgres.admin_dsn())
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def build() -> None:
        await admin(f'CREATE DATABASE "{name}"')
        engine = create_engine(private_postgres.url(name))
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(build())
    yield private_postgres.url(name)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def starter_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starter model, trained once per test process (training takes seconds under load)."""
    return ensure_starter_model(tmp_path_factory.mktemp("starter"))


@pytest.fixture
def starter_in_place(starter_model: Path, tmp_path: Path) -> None:
    """Put the trained starter where the daemon of `fault_settings` looks for it first
    (`<data_dir>/models/`): it finds it current and loads it instead of training again."""
    models = tmp_path / "data" / "models"
    models.mkdir(parents=True, exist_ok=True)
    shutil.copy2(starter_model, models / starter_model.name)
