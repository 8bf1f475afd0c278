"""The daemon with a mailbox: mail pushed by IDLE is stored, and a stop is not held up by IDLE."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.daemon import Daemon
from tests.dovecot import Account, Dovecot, dovecot, imap_account
from tests.email_helpers import (
    complaint_rows,
    flags,
    in_thread,
    mail,
    mailbox_daemon_settings,
    mid,
    until,
)

__all__ = ["dovecot", "imap_account"]  # fixtures used by name


async def test_the_daemon_stores_pushed_mail_and_stops_promptly(
    store_url: str,
    engine: AsyncEngine,
    tmp_path: Path,
    dovecot: Dovecot,
    imap_account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = mailbox_daemon_settings(store_url, tmp_path / "data", dovecot, imap_account)
    registry = CollectorRegistry()
    daemon = Daemon(settings, registry=registry)
    task = asyncio.create_task(daemon.run())
    await until(lambda: daemon.ready.is_set() or task.done(), timeout=90)
    assert not task.done()

    await in_thread(dovecot.append, imap_account, mail("via-daemon"))

    async def stored() -> bool:
        return [r["source_id"] for r in await complaint_rows(engine)] == [mid("via-daemon")]

    await until(stored, timeout=60)
    await until(lambda: flags(dovecot, imap_account) == {1: {b"\\Seen"}})
    assert registry.get_sample_value("muara_ingest_complaints_total", {"channel": "email"}) == 1

    # The collector is back in IDLE (for up to 300 s); the stop must end it, not the shutdown
    # timeout's cancellation.
    with caplog.at_level(logging.INFO, logger="muara.daemon"):
        daemon.request_stop()
        async with asyncio.timeout(60):
            await task
    assert "stopped" in caplog.text and "cancelled" not in caplog.text
    assert daemon.supervisor is not None
    assert daemon.supervisor.health["collector:aduan"].failing_since is None
