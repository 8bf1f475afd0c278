"""The route stage with duplicate detection, on both backends: what it decides and records."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, update

from muara.domain import Decision, DecisionMode, NewComplaint, State, Suggestion
from muara.exporters.metrics import Metrics
from muara.router.ruleset import RuleSet
from muara.router.settings import DuplicateDetectionSettings, RouterSettings
from muara.router.stage import RouteStage
from muara.store.duplicate_index import DuplicateCheck, DuplicateIndex
from muara.store.duplicate_tables import duplicate_fingerprints, duplicate_keys
from muara.store.engine import create_engine
from muara.store.records import ComplaintRecord
from muara.store.repository import Store
from muara.store.tables import complaints, decisions
from muara.testing import FakeClock
from tests.duplicate_cases import GAZETTEER, POTHOLE_EMAIL, POTHOLE_TWEET, report


class DiscardX:
    """A rule discarding every post from X (as a spam rule would)."""

    name = "no-x"

    def predicate(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> bool:
        return complaint.channel == "x"

    def action(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> Decision:
        return Decision(State.DISCARDED, None, DecisionMode.RULE, "rule:no-x", "spam")


def stage(store: Store, rules: RuleSet | None = None, **duplicates: object) -> RouteStage:
    settings = RouterSettings(
        auto_route_threshold=0.0,
        duplicates=DuplicateDetectionSettings.model_validate(duplicates),
    )
    return RouteStage(
        store, settings, Metrics(CollectorRegistry()), rules or RuleSet(), gazetteer=GAZETTEER
    )


async def route(store: Store, route_stage: RouteStage, items: Sequence[NewComplaint]) -> list[int]:
    """Store `items` as CLASSIFIED and run one batch of the stage over them."""
    ids = [stored.id for stored in await store.store_many([(item, None) for item in items])]
    async with store.engine.begin() as conn:
        await conn.execute(
            update(complaints).where(complaints.c.id.in_(ids)).values(state="CLASSIFIED")
        )
    batch = await store.claim(State.CLASSIFIED, owner="t", limit=len(ids), lease_seconds=60)
    await route_stage.handle(batch, "t")
    return ids


async def rows(store: Store, ids: Sequence[int]) -> dict[int, tuple[str, int | None]]:
    async with store.engine.connect() as conn:
        found = await conn.execute(
            select(complaints.c.id, complaints.c.state, complaints.c.duplicate_of_id).where(
                complaints.c.id.in_(ids)
            )
        )
        return {int(cid): (state, of) for cid, state, of in found}


async def test_a_repeat_of_a_complaint_in_review_is_its_duplicate(store: Store) -> None:
    route_stage = stage(store)
    # No suggestion: the first waits for a coordinator; a repeat is linked to it all the same,
    # so when the coordinator routes it, it is filed once.
    [email] = await route(store, route_stage, [report("e1", POTHOLE_EMAIL)])
    [tweet] = await route(
        store, route_stage, [report("x1", POTHOLE_TWEET, channel="x", minutes=30)]
    )
    assert await rows(store, [email, tweet]) == {
        email: ("REVIEW", None),
        tweet: ("DUPLICATE", email),
    }
    async with store.engine.connect() as conn:
        decided = (
            await conn.execute(
                select(decisions.c.mode, decisions.c.decided_by, decisions.c.reason).where(
                    decisions.c.complaint_id == tweet
                )
            )
        ).one()
    assert tuple(decided) == ("rule", "rule:duplicate", f"duplicate of #{email}: same text")
    metrics = route_stage.metrics
    assert metrics.duplicates.labels("same_text")._value.get() == 1
    assert metrics.decisions.labels("rule", "DUPLICATE")._value.get() == 1


async def test_a_discarding_rule_wins_and_a_discarded_complaint_is_not_indexed(
    store: Store,
) -> None:
    route_stage = stage(store, RuleSet([DiscardX()]))
    [email] = await route(store, route_stage, [report("e1", POTHOLE_EMAIL)])
    [tweet] = await route(
        store, route_stage, [report("x1", POTHOLE_TWEET, channel="x", minutes=30)]
    )
    assert await rows(store, [email, tweet]) == {
        email: ("REVIEW", None),
        tweet: ("DISCARDED", None),
    }
    async with store.engine.connect() as conn:
        indexed = set((await conn.execute(select(duplicate_fingerprints.c.complaint_id))).scalars())
    assert indexed == {email}


async def test_with_detection_off_nothing_is_linked_or_indexed(store: Store) -> None:
    route_stage = stage(store, enabled=False)
    ids = await route(
        store,
        route_stage,
        [report("e1", POTHOLE_EMAIL), report("x1", POTHOLE_TWEET, channel="x", minutes=30)],
    )
    assert {state for state, _ in (await rows(store, ids)).values()} == {"REVIEW"}
    async with store.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(duplicate_keys)) == 0


async def test_the_stage_prunes_the_index_every_prune_minutes(
    store: Store, clock: FakeClock
) -> None:
    async def indexed(complaint_id: int) -> tuple[int, int]:
        async with store.engine.connect() as conn:
            keys = await conn.scalar(
                select(func.count())
                .select_from(duplicate_keys)
                .where(duplicate_keys.c.complaint_id == complaint_id)
            )
            prints = await conn.scalar(
                select(func.count())
                .select_from(duplicate_fingerprints)
                .where(duplicate_fingerprints.c.complaint_id == complaint_id)
            )
        return int(keys or 0), int(prints or 0)

    monthly = stage(store, prune_minutes=60 * 24 * 30)
    [first] = await route(store, monthly, [report("e1", POTHOLE_EMAIL)])
    keys, prints = await indexed(first)
    assert keys > 0 and prints == 1
    # Ten days on, every window has passed; a stage that pruned within its period leaves it.
    clock.advance(10 * 86_400)
    later = 10 * 24 * 60
    await route(store, monthly, [report("x1", "lampu PJU mati di gang 4", minutes=later + 1)])
    assert await indexed(first) == (keys, 1)
    # An hourly stage prunes at its first batch: the complaint can no longer match, so it goes.
    hourly = stage(store, prune_minutes=60)
    await route(store, hourly, [report("x2", "sampah menumpuk di TPS pasar", minutes=later + 2)])
    assert await indexed(first) == (0, 0)


class CheckThenWait(DuplicateIndex):
    """The real index whose check, once done, waits at a barrier: two replicas' route stages
    both check before either commits, the interleaving that could route a repeat as new."""

    def __init__(self, inner: DuplicateIndex, barrier: asyncio.Barrier) -> None:
        super().__init__(inner.engine, settings=inner.settings, gazetteer=inner.gazetteer)
        self.barrier = barrier
        self.checks = 0

    async def check(
        self, records: Sequence[ComplaintRecord], agencies: Mapping[int, str | None] | None = None
    ) -> DuplicateCheck:
        found = await super().check(records, agencies)
        self.checks += 1
        if self.checks == 1:
            await self.barrier.wait()
        return found


async def test_two_replicas_routing_two_repeats_at_once_file_one(pg_database: str) -> None:
    engine = create_engine(pg_database)
    try:
        store = Store(engine, clock=FakeClock())
        ids = [
            stored.id
            for stored in await store.store_many(
                [
                    (report("e1", POTHOLE_EMAIL), None),
                    (report("x1", POTHOLE_TWEET, channel="x", minutes=30), None),
                ]
            )
        ]
        async with engine.begin() as conn:
            await conn.execute(
                update(complaints).where(complaints.c.id.in_(ids)).values(state="CLASSIFIED")
            )
        barrier = asyncio.Barrier(2)
        replicas = [stage(store), stage(store)]
        for replica in replicas:
            assert replica.duplicates is not None
            replica.duplicates = CheckThenWait(replica.duplicates, barrier)
        # Each replica holds one of the two complaints: both check an index without the other.
        batches = [
            await store.claim(State.CLASSIFIED, owner=f"r{n}", limit=1, lease_seconds=60)
            for n in range(2)
        ]
        await asyncio.gather(
            *(
                replica.handle(batch, f"r{n}")
                for n, (replica, batch) in enumerate(zip(replicas, batches, strict=True))
            )
        )
        states = await rows(store, ids)
        assert sorted(state for state, _ in states.values()) == ["DUPLICATE", "REVIEW"]
        [root] = [cid for cid, (state, _) in states.items() if state == "REVIEW"]
        assert {of for state, of in states.values() if state == "DUPLICATE"} == {root}
        # The replica that committed second saw the race and checked its batch again.
        races = [r.metrics.duplicate_races._value.get() for r in replicas]
        assert sorted(races) == [0, 1]
        async with engine.connect() as conn:
            indexed = set(
                (await conn.execute(select(duplicate_fingerprints.c.complaint_id))).scalars()
            )
        assert indexed == set(ids)
    finally:
        await engine.dispose()
