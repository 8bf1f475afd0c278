"""The store: idempotent ingest, quarantine, leases and the transition table, on both backends."""

from __future__ import annotations

import dataclasses

import pytest

from muara.domain import IllegalTransitionError, State
from muara.ingest.base import StoreOutcome
from muara.store.records import Change
from muara.store.repository import Store
from muara.testing import FakeClock
from tests.factories import complaint, raw


async def test_storing_the_same_complaint_twice_reports_already_known(store: Store) -> None:
    first = await store.store(complaint(1), raw(1))
    again = await store.store(complaint(1), raw(1))
    assert first.outcome is StoreOutcome.STORED
    assert again.outcome is StoreOutcome.ALREADY_KNOWN
    assert again.id == first.id
    report = await store.status()
    assert report.by_state() == {"NEW": 1}


async def test_same_source_id_on_another_channel_is_another_complaint(store: Store) -> None:
    a = await store.store(complaint(1, channel="callcenter"), None)
    b = await store.store(complaint(1, channel="email"), None)
    assert a.id != b.id and b.created


async def test_store_many_mixes_new_and_known_in_one_transaction(store: Store) -> None:
    await store.store(complaint(2), raw(2))
    results = await store.store_many([(complaint(n), raw(n)) for n in (1, 2, 3, 3)])
    assert [r.outcome for r in results] == [
        StoreOutcome.STORED,
        StoreOutcome.ALREADY_KNOWN,
        StoreOutcome.STORED,
        StoreOutcome.ALREADY_KNOWN,
    ]
    assert (await store.status()).by_state() == {"NEW": 3}


async def test_quarantine_is_recorded_once_and_counted_per_channel(store: Store) -> None:
    bad = raw(9)
    first = await store.quarantine(bad, "MalformedRow", "row 9: 3 fields, expected 8")
    again = await store.quarantine(bad, "MalformedRow", "row 9: 3 fields, expected 8")
    assert first.created and not again.created
    assert (await store.status()).quarantined == {"callcenter": 1}


async def test_claimed_rows_are_not_claimed_again_until_the_lease_expires(
    store: Store, clock: FakeClock
) -> None:
    for n in range(5):
        await store.store(complaint(n), None)
    a = await store.claim(State.NEW, owner="a", limit=3, lease_seconds=30)
    b = await store.claim(State.NEW, owner="b", limit=10, lease_seconds=30)
    assert len(a) == 3 and len(b) == 2
    assert not {r.id for r in a} & {r.id for r in b}
    assert await store.claim(State.NEW, owner="c", limit=10, lease_seconds=30) == []
    clock.advance(31)
    c = await store.claim(State.NEW, owner="c", limit=10, lease_seconds=30)
    assert {r.id for r in c} == {r.id for r in a} | {r.id for r in b}


async def test_a_worker_that_lost_its_lease_cannot_commit(store: Store, clock: FakeClock) -> None:
    stored = await store.store(complaint(1), None)
    await store.claim(State.NEW, owner="slow", limit=1, lease_seconds=10)
    clock.advance(11)
    await store.claim(State.NEW, owner="fast", limit=1, lease_seconds=10)
    lost = await store.apply("slow", [Change(stored.id, State.NEW, State.DISCARDED, "test")])
    assert lost == [stored.id]
    assert await store.apply("fast", [Change(stored.id, State.NEW, State.CLASSIFIED, "t")]) == []
    assert (await store.status()).by_state() == {"CLASSIFIED": 1}


async def test_an_illegal_transition_raises_and_changes_nothing(store: Store) -> None:
    stored = await store.store(complaint(1), None)
    await store.claim(State.NEW, owner="w", limit=1, lease_seconds=10)
    with pytest.raises(IllegalTransitionError):
        await store.apply("w", [Change(stored.id, State.NEW, State.EXPORTED, "test")])
    assert (await store.status()).by_state() == {"NEW": 1}


async def test_released_leases_are_claimable_at_once(store: Store) -> None:
    stored = await store.store(complaint(1), None)
    await store.claim(State.NEW, owner="w", limit=1, lease_seconds=600)
    await store.release("w", [stored.id])
    again = await store.claim(State.NEW, owner="x", limit=1, lease_seconds=600)
    assert [r.id for r in again] == [stored.id]


async def test_status_reports_oldest_item_per_state(store: Store) -> None:
    for n in (5, 3, 9):
        await store.store(complaint(n), None)
    [row] = (await store.status()).states
    assert row.count == 3 and row.oldest_received_at == complaint(3).received_at


async def test_noise_is_stored_as_discarded_with_its_reason_and_not_worked_on(
    store: Store,
) -> None:
    noise = dataclasses.replace(complaint(1), discard_reason="auto-reply (Auto-Submitted)")
    first = await store.store(noise, raw(1))
    again = await store.store(noise, raw(1))
    assert first.created and not again.created
    assert (await store.status()).by_state() == {"DISCARDED": 1}
    assert await store.claim(State.NEW, owner="w", limit=10, lease_seconds=10) == []
