"""The duplicate index on both backends, used the way the route stage uses it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update

from muara.domain import Decision, DecisionMode, NewComplaint, State
from muara.router.duplicates import MatchKind
from muara.store.duplicate_index import DuplicateIndex
from muara.store.duplicate_tables import duplicate_fingerprints, duplicate_keys
from muara.store.records import Change
from muara.store.repository import Store
from muara.store.tables import complaints, decisions
from muara.testing import FakeClock
from tests.duplicate_cases import (
    GAZETTEER,
    POTHOLE_CALL,
    POTHOLE_EMAIL,
    POTHOLE_TWEET,
    STREETLIGHT,
    T0,
    flood_reports,
    report,
)


async def route(store: Store, index: DuplicateIndex, items: Sequence[NewComplaint]) -> list[int]:
    """Store `items` and route them as the route stage would: duplicates first, else ROUTED."""
    stored = await store.store_many([(item, None) for item in items])
    ids = [result.id for result in stored]
    async with store.engine.begin() as conn:
        await conn.execute(
            update(complaints).where(complaints.c.id.in_(ids)).values(state="CLASSIFIED")
        )
    batch = await store.claim(State.CLASSIFIED, owner="t", limit=len(ids), lease_seconds=60)
    check = await index.check(batch, {record.id: "BPBD" for record in batch})
    changes = []
    values: dict[str, object]
    for record in batch:
        match = check.matches.get(record.id)
        if match is not None:
            decision = Decision(
                State.DUPLICATE, None, DecisionMode.RULE, "rule:duplicate", match.reason
            )
            values = {"duplicate_of_id": match.of_id}
        else:
            decision = Decision(State.ROUTED, "BPBD", DecisionMode.AUTO, "auto", "test")
            values = {"agency": "BPBD"}
        changes.append(
            Change(
                record.id,
                State.CLASSIFIED,
                decision.target,
                decision.decided_by,
                values,
                decision=decision,
            )
        )
    assert await store.apply("t", changes, also=check.record) == []
    return ids


async def links(store: Store, ids: Sequence[int]) -> dict[int, int | None]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(complaints.c.id, complaints.c.duplicate_of_id).where(complaints.c.id.in_(ids))
        )
        return {int(cid): of for cid, of in rows}


async def test_a_flood_of_200_reports_becomes_one_complaint(store: Store) -> None:
    index = DuplicateIndex(store.engine, gazetteer=GAZETTEER)
    reports = flood_reports(200)
    ids: list[int] = []
    for start in range(0, 200, 50):  # four batches, as the route stage would claim them
        ids += await route(store, index, reports[start : start + 50])
    linked = await links(store, ids)
    assert linked[ids[0]] is None
    assert {linked[i] for i in ids[1:]} == {ids[0]}
    async with store.engine.connect() as conn:
        states: dict[str, int] = dict(
            (
                await conn.execute(
                    select(complaints.c.state, func.count()).group_by(complaints.c.state)
                )
            ).all()
        )
        reasons = (
            (
                await conn.execute(
                    select(decisions.c.reason).where(decisions.c.target_state == "DUPLICATE")
                )
            )
            .scalars()
            .all()
        )
    # One complaint goes on to LAPOR!; the other 199 are kept, linked, and say why.
    assert states == {"ROUTED": 1, "DUPLICATE": 199}
    assert all(reason.startswith(f"duplicate of #{ids[0]}") for reason in reasons)


async def test_the_same_complaint_by_email_x_and_call_center_links_to_the_first(
    store: Store,
) -> None:
    index = DuplicateIndex(store.engine, gazetteer=GAZETTEER)
    [email] = await route(store, index, [report("e1", POTHOLE_EMAIL, contact="budi@example.com")])
    [tweet] = await route(
        store, index, [report("x1", POTHOLE_TWEET, channel="x", minutes=60, contact="@budi_sby")]
    )
    [call] = await route(
        store,
        index,
        [
            report(
                "c1",
                POTHOLE_CALL,
                channel="callcenter",
                minutes=120,
                contact="0812 3456 7890",
                district="Gayungan",
                subdistrict="Ketintang",
            )
        ],
    )
    # Another problem on the same street, reported in between, stays a complaint of its own.
    [light] = await route(
        store, index, [report("e2", STREETLIGHT, minutes=90, contact="ani@example.com")]
    )
    assert await links(store, [email, tweet, call, light]) == {
        email: None,
        tweet: email,
        call: email,
        light: None,
    }


async def test_within_one_batch_the_earliest_received_is_the_root(store: Store) -> None:
    index = DuplicateIndex(store.engine, gazetteer=GAZETTEER)
    # Handed over out of order: the tweet (received later) was stored first.
    tweet = report("x1", POTHOLE_TWEET, channel="x", minutes=60)
    email = report("e1", POTHOLE_EMAIL, contact="budi@example.com")
    tweet_id, email_id = await route(store, index, [tweet, email])
    assert await links(store, [tweet_id, email_id]) == {tweet_id: email_id, email_id: None}


async def test_a_discarded_complaint_is_no_root_and_a_redo_adds_nothing(
    store: Store, clock: FakeClock
) -> None:
    index = DuplicateIndex(store.engine, gazetteer=GAZETTEER)
    [first] = await route(store, index, [report("e1", POTHOLE_EMAIL)])
    async with store.engine.begin() as conn:
        rows = await conn.scalar(select(func.count()).select_from(duplicate_keys))
        await conn.execute(
            update(complaints).where(complaints.c.id == first).values(state="DISCARDED")
        )
    [again] = await route(store, index, [report("x1", POTHOLE_TWEET, channel="x", minutes=5)])
    assert (await links(store, [again]))[again] is None
    # Recording the same complaints again (a redone batch) writes no second copy.
    batch_check = await index.check(
        await store.claim(State.ROUTED, owner="t", limit=10, lease_seconds=60)
    )
    assert batch_check.matches == {}
    async with store.engine.begin() as conn:
        before = await conn.scalar(select(func.count()).select_from(duplicate_keys))
        await batch_check.record(conn, {again})
        after = await conn.scalar(select(func.count()).select_from(duplicate_keys))
    assert rows is not None and before is not None
    assert before == after and before > rows


async def test_find_duplicate_and_prune(store: Store) -> None:
    index = DuplicateIndex(store.engine, gazetteer=GAZETTEER)
    [first] = await route(store, index, [report("e1", POTHOLE_EMAIL)])
    [second] = await store.store_many([(report("x1", POTHOLE_TWEET, channel="x"), None)])
    async with store.engine.begin() as conn:
        await conn.execute(
            update(complaints).where(complaints.c.id == second.id).values(state="CLASSIFIED")
        )
    [record] = await store.claim(State.CLASSIFIED, owner="t", limit=1, lease_seconds=60)
    match = await index.find_duplicate(record, "DPUBM")
    assert match is not None
    assert (match.of_id, match.kind) == (first, MatchKind.SAME_TEXT)
    # While it waits to be routed, a month later, its earlier repeat is kept: a backlog is
    # matched against what came in around it, however late it is routed.
    late = T0.replace(month=12, day=25)
    assert await index.prune(late) == 0
    assert await index.find_duplicate(record, "DPUBM") == match
    # Once it is routed, nothing of that week can match any more: the index forgets it.
    async with store.engine.begin() as conn:
        await conn.execute(
            update(complaints).where(complaints.c.id == second.id).values(state="REVIEW")
        )
    assert await index.prune(late) > 0
    async with store.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(duplicate_keys)) == 0
        assert await conn.scalar(select(func.count()).select_from(duplicate_fingerprints)) == 0
    assert await index.find_duplicate(record) is None
