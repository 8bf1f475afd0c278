"""Shared pieces of the e-mail tests: message builders, store look-ups, a crashing sink."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.config import Settings, load_settings
from muara.domain import NewComplaint, RawInput
from muara.ingest.base import Stored
from muara.ingest.testing import SimulatedCrashError
from muara.store.repository import Store
from muara.store.tables import complaints, raw_inputs
from tests.dovecot import Account, Dovecot


def mail(
    n: str,
    text: str = "Jalan berlubang di depan pasar, mohon diperbaiki.",
    *,
    sender: str = "Budi Santoso <budi@contoh.id>",
    subject: str = "Laporan jalan rusak",
    headers: str = "",
) -> bytes:
    """A plain-text message with Message-ID `<n@test.contoh.id>`."""
    return (
        f"From: {sender}\r\nTo: aduan@pemkot.go.id\r\nSubject: {subject}\r\n"
        f"Date: Mon, 23 Nov 2026 08:15:00 +0700\r\nMessage-ID: <{n}@test.contoh.id>\r\n"
        f"{headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    ).encode()


def mid(n: str) -> str:
    """The stored source id of `mail(n)`."""
    return f"<{n}@test.contoh.id>"


async def complaint_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every complaint in the store, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(complaints).order_by(complaints.c.id))
        return [dict(row) for row in rows.mappings()]


async def quarantine_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every quarantine record in the store."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(raw_inputs).where(raw_inputs.c.quarantined_at.is_not(None))
        )
        return [dict(row) for row in rows.mappings()]


async def raw_of(engine: AsyncEngine, raw_id: int) -> bytes:
    """The raw bytes kept for a complaint."""
    async with engine.connect() as conn:
        content = await conn.scalar(select(raw_inputs.c.content).where(raw_inputs.c.id == raw_id))
    assert isinstance(content, bytes)
    return content


def flags(dovecot: Dovecot, account: Account, folder: str = "INBOX") -> dict[int, set[bytes]]:
    """The IMAP flags of every message in `folder`, as a second client sees them (without
    \\Recent, which only says which session saw a message first)."""
    with dovecot.client(account) as client:
        client.select_folder(folder, readonly=True)
        found = client.get_flags(client.search())
    return {uid: set(value) - {b"\\Recent"} for uid, value in found.items()}


async def in_thread(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking helper (an APPEND from a second connection) off the event loop."""
    return await asyncio.to_thread(call, *args, **kwargs)


async def until(check: Callable[[], bool | Awaitable[bool]], timeout: float = 30) -> None:
    """Wait until `check` holds (something happens in another task or process)."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await asyncio.sleep(0.01)


class CrashingSink:
    """The real store that crashes once: before its commit, or right after it (before the
    collector could acknowledge anything at the source)."""

    def __init__(self, store: Store, when: Literal["before commit", "after commit"]) -> None:
        self.inner = store
        self.when = when
        self.crashed = False

    def _crash_now(self, point: str) -> bool:
        if not self.crashed and self.when == point:
            self.crashed = True
            return True
        return False

    async def store_many(self, items: list[tuple[NewComplaint, RawInput | None]]) -> list[Stored]:
        if self._crash_now("before commit"):
            raise SimulatedCrashError("crash before the commit")
        result = await self.inner.store_many(items)
        if self._crash_now("after commit"):
            raise SimulatedCrashError("crash after the commit")
        return result

    async def store(self, complaint: NewComplaint, raw: RawInput | None) -> Stored:
        return (await self.store_many([(complaint, raw)]))[0]

    async def quarantine(self, raw: RawInput, error_class: str, reason: str) -> Stored:
        return await self.inner.quarantine(raw, error_class, reason)


def source_ids(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The source ids of complaint rows."""
    return [str(row["source_id"]) for row in rows]


def mailbox_daemon_settings(
    store_url: str, data_dir: Path, dovecot: Dovecot, account: Account, **mailbox: Any
) -> Settings:
    """A daemon reading the account's "aduan" mailbox (with `mailbox` overrides), LAPOR! off."""
    source = dovecot.mailbox(account, name="aduan").model_dump()
    source["password"] = account.password
    return load_settings(
        data_dir=data_dir,
        store={"url": store_url},
        http={"port": 0},
        workers={"idle_seconds": 0.05, "shutdown_timeout": 20},
        lapor={"enabled": False},
        email=[{**source, **mailbox}],
    )
