"""The e-mail collector against a real Dovecot: push, poll, acknowledgement after commit,
UIDVALIDITY, two mailboxes, threads, noise, moves, reconnects and TLS."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.daemon import MeteredSink
from muara.exporters.metrics import Metrics
from muara.ingest.base import PollReport
from muara.ingest.email import EmailCollector
from muara.ingest.email.check import check_mailbox
from muara.ingest.email.errors import MailboxLoginError, MailboxUnavailableError
from muara.ingest.email.imap import ImapSession
from muara.ingest.settings import ImapMailbox
from muara.ingest.testing import SimulatedCrashError
from muara.store.cursors import Cursors
from muara.store.followups import Followups
from muara.store.repository import Store
from muara.testing import FakeClock
from tests.dovecot import HOST, NO_IDLE_HOST, Account, Dovecot, dovecot, imap_account
from tests.email_helpers import (
    CrashingSink,
    complaint_rows,
    flags,
    in_thread,
    mail,
    mid,
    raw_of,
    source_ids,
    until,
)

__all__ = ["dovecot", "imap_account"]  # fixtures used by name

SEEN = b"\\Seen"
Make = Callable[..., EmailCollector]


@pytest.fixture
async def make(
    engine: AsyncEngine, clock: FakeClock, dovecot: Dovecot, imap_account: Account
) -> AsyncIterator[Make]:
    """Builds collectors on the test's store and account; logs them out at the end."""
    made: list[EmailCollector] = []

    def build(
        account: Account | None = None,
        *,
        session: Callable[[ImapMailbox], ImapSession] = ImapSession.open,
        stop: asyncio.Event | None = None,
        **settings: Any,
    ) -> EmailCollector:
        mailbox = dovecot.mailbox(account or imap_account, **settings)
        collector = EmailCollector(
            mailbox, engine, clock=clock, stop=stop, idle_slice=0.2, open_session=session
        )
        made.append(collector)
        return collector

    yield build
    for collector in made:
        await collector.close()


async def poll_in_background(collector: EmailCollector, sink: Any) -> asyncio.Task[PollReport]:
    """Start a poll and return once it waits in IDLE."""
    task = asyncio.create_task(collector.poll(sink))
    await until(lambda: collector.idle_waiting or task.done())
    return task


async def test_idle_pushes_new_mail_without_waiting_for_a_poll(
    make: Make, store: Store, engine: AsyncEngine, dovecot: Dovecot, imap_account: Account
) -> None:
    collector = make()
    task = await poll_in_background(collector, store)
    assert collector.uses_idle and collector.poll_seconds == 0
    assert not task.done()  # the fake clock never reaches idle_seconds: only news ends it

    await in_thread(dovecot.append, imap_account, mail("pushed"))
    async with asyncio.timeout(30):
        report = await task

    assert report.ingested == 1
    assert source_ids(await complaint_rows(engine)) == [mid("pushed")]
    assert flags(dovecot, imap_account) == {1: {SEEN}}


async def test_without_idle_the_mailbox_is_polled(
    make: Make, store: Store, engine: AsyncEngine, dovecot: Dovecot, imap_account: Account
) -> None:
    collector = make(host=NO_IDLE_HOST, poll_seconds=7)
    async with asyncio.timeout(30):
        assert await collector.poll(store) == PollReport()  # returns: nothing to wait on
    assert not collector.uses_idle and collector.poll_seconds == 7

    await in_thread(dovecot.append, imap_account, mail("a"), mail("b"))
    async with asyncio.timeout(30):
        report = await collector.poll(store)
    assert report.ingested == 2
    assert source_ids(await complaint_rows(engine)) == [mid("a"), mid("b")]
    assert flags(dovecot, imap_account) == {1: {SEEN}, 2: {SEEN}}


async def test_idle_is_off_when_configured_so(make: Make, store: Store) -> None:
    collector = make(idle=False, poll_seconds=5)
    async with asyncio.timeout(30):
        await collector.poll(store)
    assert not collector.uses_idle and collector.poll_seconds == 5


class CountingSession(ImapSession):
    """The real session, counting IDLE commands."""

    idles = 0

    def idle_start(self) -> bool:
        type(self).idles += 1
        return super().idle_start()


async def test_idle_is_reissued_when_idle_seconds_pass(
    make: Make, store: Store, clock: FakeClock
) -> None:
    CountingSession.idles = 0
    collector = make(session=CountingSession.open, idle_seconds=240)
    task = await poll_in_background(collector, store)
    clock.advance(239)
    await asyncio.sleep(0.5)  # more than one IDLE slice: it is still waiting
    assert not task.done()
    clock.advance(2)
    async with asyncio.timeout(30):
        assert await task == PollReport()
    # The next poll selects the folder and waits in a fresh IDLE.
    task = await poll_in_background(collector, store)
    assert CountingSession.idles == 2
    await collector.close()
    async with asyncio.timeout(30):
        await task


class LateMailSession(ImapSession):
    """The real session, with mail arriving right after the last SEARCH, before IDLE."""

    deliver: Callable[[], None] | None = None

    def idle_start(self) -> bool:
        deliver, LateMailSession.deliver = LateMailSession.deliver, None
        if deliver is not None:
            deliver()
        return super().idle_start()


async def test_mail_that_arrives_just_before_idle_is_not_left_waiting(
    make: Make, store: Store, engine: AsyncEngine, dovecot: Dovecot, imap_account: Account
) -> None:
    # Dovecot reports in IDLE only what arrives once IDLE has begun: without a last look,
    # this message would wait for the next IDLE (idle_seconds; never, on the fake clock).
    LateMailSession.deliver = lambda: dovecot.append(imap_account, mail("late"))
    collector = make(session=LateMailSession.open)
    async with asyncio.timeout(30):
        report = await collector.poll(store)
    assert report.ingested == 1
    assert source_ids(await complaint_rows(engine)) == [mid("late")]


async def test_a_stop_ends_the_idle_wait_within_a_slice(make: Make, store: Store) -> None:
    stop = asyncio.Event()
    collector = make(stop=stop)
    task = await poll_in_background(collector, store)
    stop.set()
    async with asyncio.timeout(5):
        assert await task == PollReport()
    assert not collector.idle_waiting


@pytest.mark.parametrize("when", ["before commit", "after commit"])
async def test_a_crash_before_the_acknowledgement_rereads_and_stores_once(
    when: Any,
    make: Make,
    store: Store,
    engine: AsyncEngine,
    clock: FakeClock,
    dovecot: Dovecot,
    imap_account: Account,
) -> None:
    await in_thread(dovecot.append, imap_account, mail("one"), mail("two"))
    crashing = CrashingSink(store, when)
    with pytest.raises(SimulatedCrashError):
        await make(idle=False).poll(crashing)

    # Nothing was acknowledged at the source and the cursor did not move.
    assert flags(dovecot, imap_account) == {1: set(), 2: set()}
    cursor = await Cursors(engine, clock=clock).get("inbox")
    assert cursor is not None and cursor["last_uid"] == 0
    stored = source_ids(await complaint_rows(engine))
    assert stored == ([] if when == "before commit" else [mid("one"), mid("two")])

    # A restarted collector reads both again: each is stored once, then acknowledged.
    report = await make(idle=False).poll(store)
    assert report.ingested + report.already_known == 2
    assert source_ids(await complaint_rows(engine)) == [mid("one"), mid("two")]
    assert flags(dovecot, imap_account) == {1: {SEEN}, 2: {SEEN}}
    cursor = await Cursors(engine, clock=clock).get("inbox")
    assert cursor is not None and cursor["last_uid"] == 2


async def test_a_uidvalidity_change_rescans_without_doubles(
    make: Make,
    store: Store,
    engine: AsyncEngine,
    clock: FakeClock,
    dovecot: Dovecot,
    imap_account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = "Aduan"
    await in_thread(dovecot.append, imap_account, mail("a"), mail("b"), folder=folder)
    collector = make(idle=False, folder=folder)
    assert (await collector.poll(store)).ingested == 2
    before = await Cursors(engine, clock=clock).get("inbox")
    assert before is not None

    # The folder is re-created (a server migration does the same): every UID starts over.
    with dovecot.client(imap_account) as client:
        client.delete_folder(folder)
        client.create_folder(folder)
    await in_thread(dovecot.append, imap_account, mail("a"), mail("b"), mail("c"), folder=folder)

    with caplog.at_level(logging.WARNING, logger="muara.ingest.email"):
        report = await collector.poll(store)
    assert (report.ingested, report.already_known) == (1, 2)
    assert source_ids(await complaint_rows(engine)) == [mid("a"), mid("b"), mid("c")]
    assert flags(dovecot, imap_account, folder) == {1: {SEEN}, 2: {SEEN}, 3: {SEEN}}
    after = await Cursors(engine, clock=clock).get("inbox")
    assert after is not None and after["uidvalidity"] != before["uidvalidity"]
    assert after["last_uid"] == 3
    assert sum("UIDVALIDITY changed" in r.getMessage() for r in caplog.records) == 1


async def test_one_message_in_two_mailboxes_is_one_complaint(
    make: Make, store: Store, engine: AsyncEngine, dovecot: Dovecot, imap_account: Account
) -> None:
    other = dovecot.add_account()
    await in_thread(dovecot.append, imap_account, mail("both"))
    await in_thread(dovecot.append, other, mail("both"), mail("only-other"))

    first = await make(idle=False, name="kota").poll(store)
    second = await make(other, idle=False, name="provinsi").poll(store)

    assert (first.ingested, first.already_known) == (1, 0)
    assert (second.ingested, second.already_known) == (1, 1)
    rows = await complaint_rows(engine)
    assert source_ids(rows) == [mid("both"), mid("only-other")]
    assert rows[0]["extra"]["mailbox"] == "kota"
    # Both copies are acknowledged: the second mailbox does not keep offering it.
    assert flags(dovecot, imap_account) == {1: {SEEN}}
    assert flags(dovecot, other) == {1: {SEEN}, 2: {SEEN}}


async def test_a_reply_from_the_same_sender_is_a_follow_up(
    make: Make,
    store: Store,
    engine: AsyncEngine,
    clock: FakeClock,
    dovecot: Dovecot,
    imap_account: Account,
) -> None:
    reply = "In-Reply-To: <first@test.contoh.id>\r\nReferences: <first@test.contoh.id>\r\n"
    await in_thread(
        dovecot.append,
        imap_account,
        mail("first", "Air PDAM mati sejak kemarin."),
        # In the same batch as its first message: it must still find it.
        mail("again", "Masih mati.\r\n\r\nOn Mon, Dinas wrote:\r\n> diproses", headers=reply,
             sender="BUDI SANTOSO <Budi@Contoh.id>", subject="Re: Laporan"),
        # A stranger answering the thread complains on their own account.
        mail("stranger", "Di rumah saya juga mati.", headers=reply,
             sender="Ani <ani@contoh.id>", subject="Re: Laporan"),
    )  # fmt: skip
    collector = make(idle=False)
    report = await collector.poll(store)
    assert report.ingested == 3

    rows = await complaint_rows(engine)
    assert source_ids(rows) == [mid("first"), mid("stranger")]
    messages = await Followups(engine, clock=clock).messages(rows[0]["id"])
    assert [(m["source_id"], m["text"]) for m in messages] == [(mid("again"), "Masih mati.")]

    # A reply to the follow-up continues the same complaint; re-reading it adds nothing.
    later = "In-Reply-To: <again@test.contoh.id>\r\n"
    await in_thread(dovecot.append, imap_account, mail("third", "Tolong.", headers=later))
    assert (await collector.poll(store)).ingested == 1
    messages = await Followups(engine, clock=clock).messages(rows[0]["id"])
    assert [m["source_id"] for m in messages] == [mid("again"), mid("third")]
    assert len(await complaint_rows(engine)) == 2


async def test_auto_replies_and_bounces_are_discarded_with_their_reason(
    make: Make, store: Store, engine: AsyncEngine, dovecot: Dovecot, imap_account: Account
) -> None:
    bounce = (
        b"From: MAILER-DAEMON@mx.contoh.id\r\nSubject: Undelivered Mail\r\n"
        b"Message-ID: <dsn@mx.contoh.id>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        b"--R\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--R--\r\n"
    )
    await in_thread(
        dovecot.append,
        imap_account,
        mail("ooo", "Saya cuti.", headers="Auto-Submitted: auto-replied\r\n"),
        bounce,
        mail("real"),
    )
    metrics = Metrics(CollectorRegistry())
    report = await make(idle=False).poll(MeteredSink(store, metrics))

    assert (report.ingested, report.discarded) == (1, 2)
    rows = {row["source_id"]: row for row in await complaint_rows(engine)}
    assert rows[mid("ooo")]["state"] == "DISCARDED"
    assert "Auto-Submitted: auto-replied" in rows[mid("ooo")]["discard_reason"]
    assert rows["<dsn@mx.contoh.id>"]["state"] == "DISCARDED"
    assert "bounce" in rows["<dsn@mx.contoh.id>"]["discard_reason"]
    assert rows[mid("real")]["state"] == "NEW"
    assert (
        metrics.registry.get_sample_value("muara_ingest_discarded_total", {"channel": "email"}) == 2
    )
    # Discards are acknowledged like the rest, so they are not read again.
    assert flags(dovecot, imap_account) == {1: {SEEN}, 2: {SEEN}, 3: {SEEN}}


async def test_stored_messages_can_be_moved_to_another_folder(
    make: Make, store: Store, engine: AsyncEngine, dovecot: Dovecot, imap_account: Account
) -> None:
    await in_thread(dovecot.append, imap_account, mail("a"), mail("b"))
    collector = make(idle=False, after_store="move", move_to="Diproses")
    assert (await collector.poll(store)).ingested == 2
    assert flags(dovecot, imap_account) == {}
    assert flags(dovecot, imap_account, "Diproses") == {1: {SEEN}, 2: {SEEN}}
    await in_thread(dovecot.append, imap_account, mail("c"))
    assert (await collector.poll(store)).ingested == 1
    assert len(flags(dovecot, imap_account, "Diproses")) == 3


async def test_a_lost_server_is_logged_once_and_its_recovery_once(
    engine: AsyncEngine, clock: FakeClock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    server = Dovecot()
    server.start()
    account = server.add_account()
    collector = EmailCollector(server.mailbox(account, idle=False), engine, clock=clock)
    try:
        await collector.poll(store)
        server.halt()
        with caplog.at_level(logging.DEBUG, logger="muara.ingest.email"):
            for _ in range(3):
                with pytest.raises(MailboxUnavailableError):
                    await collector.poll(store)
            await in_thread(server.resume)
            await in_thread(server.append, account, mail("after"))
            assert (await collector.poll(store)).ingested == 1
            assert (await collector.poll(store)).ingested == 0
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        recoveries = [r for r in caplog.records if "reading again" in r.getMessage()]
        assert len(warnings) == 1 and "reconnecting" in warnings[0].getMessage()
        assert len(recoveries) == 1
    finally:
        await collector.close()
        server.stop()


async def test_a_server_that_dies_during_idle_is_noticed_without_a_bye(
    engine: AsyncEngine, clock: FakeClock, store: Store
) -> None:
    server = Dovecot()
    server.start()
    account = server.add_account()
    collector = EmailCollector(server.mailbox(account), engine, clock=clock, idle_slice=0.2)
    try:
        task = await poll_in_background(collector, store)
        await in_thread(server.crash)  # no BYE: the stream just ends
        # The fake clock never ends the IDLE: only noticing the dead stream does.
        with pytest.raises(MailboxUnavailableError):
            async with asyncio.timeout(30):
                await task
        await in_thread(server.resume)
        await in_thread(server.append, account, mail("back"))
        task = await poll_in_background(collector, store)  # stored, then back in IDLE
        assert source_ids(await complaint_rows(engine)) == [mid("back")]
        await collector.close()
        async with asyncio.timeout(30):
            assert (await task).ingested == 1
    finally:
        await collector.close()
        server.stop()


async def test_a_connection_dropped_while_idle_is_reopened_without_a_failure(
    make: Make, store: Store, engine: AsyncEngine, dovecot: Dovecot, imap_account: Account
) -> None:
    collector = make(idle=False)
    await collector.poll(store)
    session = collector._session
    assert session is not None
    session.client.shutdown()  # the server or a NAT box closed the idle connection
    await in_thread(dovecot.append, imap_account, mail("x"))
    assert (await collector.poll(store)).ingested == 1


async def test_a_connection_dropped_during_idle_is_reopened_and_push_goes_on(
    make: Make,
    store: Store,
    engine: AsyncEngine,
    dovecot: Dovecot,
    imap_account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    collector = make()
    task = await poll_in_background(collector, store)
    with caplog.at_level(logging.WARNING, logger="muara.ingest.email"):
        await in_thread(dovecot.kick, imap_account)  # the server ends the IDLE connection
        async with asyncio.timeout(30):
            assert await task == PollReport()  # no failure: it just looks again
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    task = await poll_in_background(collector, store)
    await in_thread(dovecot.append, imap_account, mail("after-kick"))
    async with asyncio.timeout(30):
        assert (await task).ingested == 1
    assert source_ids(await complaint_rows(engine)) == [mid("after-kick")]


async def test_a_wrong_password_is_a_login_error(
    make: Make, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    collector = make(idle=False, password="wrong")
    with caplog.at_level(logging.WARNING), pytest.raises(MailboxLoginError):
        await collector.poll(store)
    assert "wrong" not in caplog.text


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
async def test_tls_with_a_self_signed_certificate_trusted_explicitly(
    tls: str,
    make: Make,
    store: Store,
    engine: AsyncEngine,
    dovecot: Dovecot,
    imap_account: Account,
) -> None:
    port = dovecot.tls_port if tls == "implicit" else dovecot.port
    await in_thread(dovecot.append, imap_account, mail("secure"))
    collector = make(idle=False, tls=tls, port=port, host="localhost", tls_ca_file=dovecot.ca_file)
    assert (await collector.poll(store)).ingested == 1
    assert source_ids(await complaint_rows(engine)) == [mid("secure")]


async def test_an_untrusted_certificate_is_refused(
    make: Make, store: Store, dovecot: Dovecot
) -> None:
    collector = make(idle=False, tls="implicit", port=dovecot.tls_port, host=HOST)
    with pytest.raises(MailboxUnavailableError, match="certificate"):
        await collector.poll(store)


async def test_check_config_connects_to_the_mailbox(
    dovecot: Dovecot, imap_account: Account
) -> None:
    await in_thread(dovecot.append, imap_account, mail("a"))
    ok, detail = await check_mailbox(dovecot.mailbox(imap_account))
    assert ok and "1 message(s)" in detail and "IDLE" in detail
    ok, detail = await check_mailbox(dovecot.mailbox(imap_account, password="wrong"))
    assert not ok and "refused the login" in detail
    ok, detail = await check_mailbox(dovecot.mailbox(imap_account, folder="Tidak-Ada"))
    assert not ok and "Tidak-Ada" in detail


async def test_muara_check_config_reports_each_mailbox(
    dovecot: Dovecot, imap_account: Account, tmp_path: Path
) -> None:
    from muara.checks import run_checks
    from muara.config import load_settings

    good = dovecot.mailbox(imap_account)
    bad = dovecot.mailbox(imap_account, name="salah", password="wrong")
    settings = load_settings(
        store={"url": f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"}, email=[good, bad]
    )
    results = {r.name: r for r in await run_checks(settings)}
    assert results["email[0]"].ok
    assert not results["email[1]"].ok and "refused the login" in results["email[1]"].detail


async def test_an_oversized_message_keeps_its_text_and_the_attachments_that_fit(
    make: Make, store: Store, engine: AsyncEngine, dovecot: Dovecot, imap_account: Account
) -> None:
    small = base64.encodebytes(b"%PDF-1.4 surat" * 700).decode()  # about 13 KB
    big = base64.encodebytes(bytes(range(256)) * 800).decode()  # about 280 KB encoded
    raw = (
        "From: Budi <budi@contoh.id>\r\nSubject: Bukti\r\nMessage-ID: <over@test.contoh.id>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="X"\r\n\r\n'
        '--X\r\nContent-Type: multipart/alternative; boundary="Y"\r\n\r\n'
        "--Y\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nJembatan ambruk.\r\n"
        "--Y\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Jembatan ambruk.</p>\r\n--Y--\r\n"
        '--X\r\nContent-Type: application/zip; name="video.zip"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + big + "--X\r\n"
        'Content-Type: application/pdf; name="surat.pdf"\r\n'
        'Content-Disposition: attachment; filename="surat.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + small + "--X--\r\n"
    ).encode()
    await in_thread(dovecot.append, imap_account, raw)
    collector = make(idle=False, max_message_bytes=64 * 1024)
    assert (await collector.poll(store)).ingested == 1

    (row,) = await complaint_rows(engine)
    assert row["text"] == "Jembatan ambruk."
    found = {a["filename"]: a for a in row["attachments"]}
    assert found["surat.pdf"]["dropped_reason"] is None
    assert found["surat.pdf"]["size"] == len(b"%PDF-1.4 surat" * 700)
    assert "over the limit of 65536 bytes" in found["video.zip"]["dropped_reason"]
    assert row["extra"]["truncated"] is True
    kept = await raw_of(engine, row["raw_input_id"])
    assert len(kept) < 64 * 1024
    assert small.splitlines()[0].encode() in kept and big.splitlines()[0].encode() not in kept
    assert flags(dovecot, imap_account) == {1: {SEEN}}
