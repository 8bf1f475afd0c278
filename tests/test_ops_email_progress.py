"""A mailbox read by IMAP IDLE waits inside one poll for up to `idle_seconds` (29 minutes at
most): its last-success gauge must move with each read, not only when the wait ends, or
MuaraSourceSilent would page for a healthy mailbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.daemon import Daemon
from tests.dovecot import Account, Dovecot, dovecot, imap_account
from tests.email_helpers import complaint_rows, in_thread, mail, mailbox_daemon_settings, mid, until

__all__ = ["dovecot", "imap_account"]  # fixtures used by name

GAUGE = "muara_source_last_success_timestamp_seconds"


async def test_an_idle_mailbox_reports_each_read_while_it_waits(
    store_url: str,
    engine: AsyncEngine,
    tmp_path: Path,
    dovecot: Dovecot,
    imap_account: Account,
) -> None:
    settings = mailbox_daemon_settings(
        store_url,
        tmp_path / "data",
        dovecot,
        imap_account,
        idle_seconds=1740,  # the poll does not return within this test
    )
    registry = CollectorRegistry()
    daemon = Daemon(settings, registry=registry)
    task = asyncio.create_task(daemon.run())
    labels = {"source": "aduan", "channel": "email"}
    try:
        await until(lambda: daemon.ready.is_set() or task.done(), timeout=90)
        assert not task.done()
        # The first read, before the IDLE wait, already counts as a success.
        await until(lambda: registry.get_sample_value(GAUGE, labels) is not None, timeout=60)
        first = registry.get_sample_value(GAUGE, labels)
        assert first is not None

        await in_thread(dovecot.append, imap_account, mail("pushed"))

        async def stored() -> bool:
            return [r["source_id"] for r in await complaint_rows(engine)] == [mid("pushed")]

        await until(stored, timeout=60)
        # Read while in IDLE: the gauge moved, though the poll is still waiting.
        await until(lambda: (registry.get_sample_value(GAUGE, labels) or 0) > first, timeout=60)
        assert registry.get_sample_value("muara_source_reading", labels) == 1
    finally:
        daemon.request_stop()
        async with asyncio.timeout(60):
            await task
