"""Source cursors and follow-up messages, on both backends."""

from __future__ import annotations

import dataclasses

from muara.domain import Reporter
from muara.store.cursors import Cursors
from muara.store.followups import Followups
from muara.store.repository import Store
from muara.testing import FakeClock
from tests.factories import complaint, raw


async def test_a_cursor_is_none_until_set_and_then_replaced(store: Store, clock: FakeClock) -> None:
    cursors = Cursors(store.engine, clock=clock)
    assert await cursors.get("imap:aduan") is None
    await cursors.set("imap:aduan", {"uidvalidity": 7, "last_uid": 41})
    await cursors.set("imap:aduan", {"uidvalidity": 7, "last_uid": 42})
    assert await cursors.get("imap:aduan") == {"uidvalidity": 7, "last_uid": 42}
    assert await cursors.get("x:mentions") is None


async def test_a_reply_from_the_same_reporter_joins_the_thread(
    store: Store, clock: FakeClock
) -> None:
    followups = Followups(store.engine, clock=clock)
    first = await store.store(complaint(1, channel="email"), raw(1, channel="email"))
    reporter = complaint(1).reporter.contact
    assert await followups.find_thread("email", ["call-1"], reporter) == first.id
    assert await followups.find_thread("email", ["call-1"], "someone-else") is None
    assert await followups.find_thread("email", ["unknown"], reporter) is None

    reply = dataclasses.replace(complaint(2, channel="email"), text="sudah seminggu belum ada")
    stored = await followups.attach(first.id, reply, raw(2, channel="email"))
    again = await followups.attach(first.id, reply, raw(2, channel="email"))
    assert stored.created and not again.created
    # A reply to the reply still finds the original complaint.
    assert await followups.find_thread("email", ["call-2"], reporter) == first.id
    assert await followups.is_known("email", "call-2")
    messages = await followups.messages(first.id)
    assert [m["text"] for m in messages] == ["sudah seminggu belum ada"]
    assert (await store.status()).by_state() == {"NEW": 1}


async def test_a_reply_to_a_discarded_complaint_stands_on_its_own(
    store: Store, clock: FakeClock
) -> None:
    followups = Followups(store.engine, clock=clock)
    reporter = complaint(1).reporter.contact
    thanks = dataclasses.replace(complaint(1, channel="email"), discard_reason="rule:terima-kasih")
    await store.store(thanks, None)
    assert (await store.status()).by_state() == {"DISCARDED": 1}
    assert await followups.find_thread("email", ["call-1"], reporter) is None
    # Its reply, stored as a complaint of its own, is the thread a later reply continues.
    reply = await store.store(complaint(2, channel="email"), None)
    assert await followups.find_thread("email", ["call-1", "call-2"], reporter) == reply.id


async def test_contact_matching_ignores_case_and_spaces(store: Store, clock: FakeClock) -> None:
    followups = Followups(store.engine, clock=clock)
    mail = dataclasses.replace(
        complaint(1, channel="email"), reporter=Reporter(contact="Warga@Example.org")
    )
    first = await store.store(mail, None)
    assert await followups.find_thread("email", ["call-1"], " warga@example.ORG ") == first.id
