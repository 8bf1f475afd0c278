"""Dovecot stopped and started under the e-mail collector: mail delivered before, during and
after the outage is stored once, flagged \\Seen once stored, and filed once."""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from muara.classify.starter import starter_examples
from muara.store.engine import create_engine
from tests.dovecot import Account, Dovecot
from tests.email_helpers import flags, mail, mid
from tests.faults.checks import assert_exactly_once, settled, stored_count
from tests.faults.daemon import fault_settings, running_daemon
from tests.test_daemon import eventually

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("starter_in_place"),
]

TEXTS = [text for text, _ in starter_examples()]


@pytest.fixture
async def server() -> AsyncIterator[Dovecot]:
    """A Dovecot of this test's own: the session's server is shared with other e-mail tests."""
    dovecot = Dovecot()
    await asyncio.to_thread(dovecot.start)
    try:
        yield dovecot
    finally:
        await asyncio.to_thread(dovecot.stop)


def message(n: int) -> tuple[tuple[str, str], bytes]:
    """A distinct complaint by mail and its key in the store."""
    name = f"fault-{n}-{uuid.uuid4().hex[:6]}"
    sender = f"Warga {n} <warga{n}@contoh.id>"
    body = mail(name, f"{TEXTS[n % len(TEXTS)]} (surat {n})", sender=sender)
    return ("email", mid(name)), body


def deliver(server: Dovecot, account: Account, body: bytes) -> None:
    """Put a message into the maildir as the MTA does while the IMAP server is down."""
    maildir = server.maildir(account)
    nobody = pwd.getpwnam("nobody")
    name = f"{uuid.uuid4().hex}.muara-test"
    staged = maildir / "tmp" / name
    staged.write_bytes(body)
    os.chown(staged, nobody.pw_uid, nobody.pw_gid)
    os.rename(staged, maildir / "new" / name)


@pytest.mark.parametrize("how", ["halt", "crash"])
async def test_mail_around_an_imap_outage_is_stored_once(
    server: Dovecot, how: str, store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`halt`: SIGTERM, sessions end with a BYE; `crash`: SIGKILL, connections just drop."""
    caplog.set_level(logging.INFO, logger="muara")
    account = server.add_account()
    mailbox = server.mailbox(account, name="aduan", idle_seconds=600).model_dump()
    mailbox["password"] = account.password
    settings = fault_settings(store_url, tmp_path, email=[mailbox])
    engine = create_engine(store_url)
    inputs: set[tuple[str, str]] = set()
    try:
        before = [message(n) for n in range(0, 5)]
        await asyncio.to_thread(server.append, account, *[body for _, body in before])
        inputs |= {key for key, _ in before}
        async with running_daemon(settings) as daemon:
            assert daemon.simulator is not None and daemon.supervisor is not None
            health = daemon.supervisor.health["collector:aduan"]

            async def stored(n: int) -> bool:
                return await stored_count(engine) >= n

            await eventually(lambda: stored(5))
            await asyncio.to_thread(getattr(server, how))
            during = [message(n) for n in range(5, 10)]
            for _, body in during:
                await asyncio.to_thread(deliver, server, account, body)
            inputs |= {key for key, _ in during}

            async def failing() -> bool:
                return health.failing_since is not None

            await eventually(failing)
            await asyncio.sleep(2)  # a few reconnects fail meanwhile
            await asyncio.to_thread(server.resume)
            after = [message(n) for n in range(10, 15)]
            await asyncio.to_thread(server.append, account, *[body for _, body in after])
            inputs |= {key for key, _ in after}

            async def all_in() -> bool:
                # Healthy again while the poll still waits in IDLE (for up to 600 s): the
                # collector reports each successful read, not only the end of its poll.
                return await stored(15) and await settled(engine, len(inputs)) and health.ok

            await eventually(all_in, timeout=120)
            result = await assert_exactly_once(engine, daemon.simulator.state, inputs)
            assert result.filed > 0
        seen = await asyncio.to_thread(flags, server, account)
        assert len(seen) == 15 and all(b"\\Seen" in f for f in seen.values()), seen
    finally:
        await engine.dispose()
    messages = [r.getMessage() for r in caplog.records]
    assert any("reconnecting with backoff" in m for m in messages), messages
    assert any("reading again" in m for m in messages), messages
    for text in ("warga5@contoh.id", "Warga 5"):
        assert text not in caplog.text
