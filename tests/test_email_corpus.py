"""The awkward-mail corpus through a real Dovecot and the real store: every message ends as a
complaint, a discard or a quarantine record with a reason, and the collector keeps going."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.daemon import MeteredSink
from muara.exporters.metrics import Metrics
from muara.ingest.email import EmailCollector
from muara.store.repository import Store
from muara.testing import FakeClock
from tests.dovecot import Account, Dovecot, dovecot, imap_account
from tests.email_helpers import complaint_rows, flags, in_thread, quarantine_rows, raw_of
from tests.mail_corpus import (
    COMPLAINT,
    DISCARD,
    QUARANTINE,
    CorpusMail,
    big_attachment_mail,
    corpus,
)

__all__ = ["dovecot", "imap_account"]  # fixtures used by name

LIMIT = 10 * 1024 * 1024


def check_row(expected: CorpusMail, row: dict[str, Any]) -> None:
    """The stored complaint is what the corpus says the message must become."""
    name = expected.name
    if expected.outcome == DISCARD:
        assert row["state"] == "DISCARDED", name
        assert expected.reason_has is not None and expected.reason_has in row["discard_reason"]
    else:
        assert row["state"] == "NEW", (name, row["discard_reason"])
    if expected.message_id is not None:
        assert row["source_id"] == expected.message_id, name
    for wanted in expected.text_has:
        assert wanted in row["text"], (name, row["text"])
    for unwanted in expected.text_lacks:
        assert unwanted not in row["text"], (name, row["text"])
    if expected.subject is not None:
        assert row["subject"] == expected.subject, name
    if expected.reporter_name is not None:
        assert row["reporter_name"] == expected.reporter_name, name
    if expected.reporter_contact is not None:
        assert row["reporter_contact"] == expected.reporter_contact, name
    if expected.attachments is not None:
        found = [
            (a["filename"], a["content_type"], a["dropped_reason"] is not None)
            for a in row["attachments"]
        ]
        assert found == list(expected.attachments), name
    for key, value in expected.extra.items():
        assert row["extra"].get(key) == value, (name, key)


async def test_every_corpus_message_becomes_a_complaint_a_discard_or_a_quarantine(
    engine: AsyncEngine,
    store: Store,
    clock: FakeClock,
    dovecot: Dovecot,
    imap_account: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mails = [*corpus(), big_attachment_mail()]
    await in_thread(dovecot.append, imap_account, *(mail.raw for mail in mails))
    mailbox = dovecot.mailbox(imap_account, idle=False, batch_size=10)
    collector = EmailCollector(mailbox, engine, clock=clock)
    metrics = Metrics(CollectorRegistry())
    try:
        with caplog.at_level(logging.DEBUG):
            report = await collector.poll(MeteredSink(store, metrics))
    finally:
        await collector.close()

    # Our logs (and imapclient's, even at DEBUG) name mailboxes, counts and error classes:
    # nothing a citizen wrote or is called.
    ours = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("muara", "imapclient"))
    )
    assert "mailbox inbox: " in ours
    for personal in ("@contoh.id", "Budi", "Siti", "Banjir", "Jalan", "KTP", "banjir.mp4"):
        assert personal not in ours, personal
    for name, count in (("complaints", report.ingested), ("discarded", report.discarded)):
        sample = metrics.registry.get_sample_value(
            f"muara_ingest_{name}_total", {"channel": "email"}
        )
        assert sample == count

    expected_quarantines = [m for m in mails if m.outcome == QUARANTINE]
    assert report.quarantined == len(expected_quarantines)
    assert report.discarded == sum(m.outcome == DISCARD for m in mails)
    assert report.ingested == sum(m.outcome == COMPLAINT for m in mails)

    # Messages were appended in order, so UID n is mails[n - 1].
    rows = {row["extra"]["uid"]: row for row in await complaint_rows(engine)}
    for uid, mail in enumerate(mails, start=1):
        if mail.outcome != QUARANTINE:
            check_row(mail, rows[uid])
    quarantined = await quarantine_rows(engine)
    assert sorted(row["error_class"] for row in quarantined) == sorted(
        m.reason_has or "" for m in expected_quarantines
    )
    for row in quarantined:
        assert row["error"] and row["content"]

    # The 30 MB message: its text and a note of the dropped attachment, not the attachment.
    big = rows[len(mails)]
    raw = await raw_of(engine, big["raw_input_id"])
    assert len(raw) < LIMIT // 10
    assert b"Banjir setinggi lutut" in raw and b"X-Muara-Truncated:" in raw
    (attachment,) = big["attachments"]
    assert "max_message_bytes" in attachment["dropped_reason"]
    assert attachment["size"] > 29 * 1024 * 1024

    # Every message, whatever became of it, is acknowledged: none is offered again.
    assert all(b"\\Seen" in found for found in flags(dovecot, imap_account).values())
    assert len(flags(dovecot, imap_account)) == len(mails)
