"""The one check every fault test ends with: nothing lost, nothing doubled, nothing stuck.

Every input is stored once (by its external key, channel and source id), every complaint that
reached LAPOR! was filed there exactly once (counted by our tag in the simulator's filings), and
none is left in a working state or under a lease once the daemon has settled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.domain import State
from muara.exporters.filing import reference
from muara.exporters.lapor.simulator import SimulatorState
from muara.store.tables import complaints

# States a complaint only passes through: the daemon has settled when none is left in them.
WORKING = frozenset({State.NEW, State.CLASSIFIED, State.ROUTED})
# States whose complaints LAPOR! holds (a CLOSED one was filed before it was closed).
FILED = frozenset({State.EXPORTED, State.CLOSED})


@dataclass(frozen=True, slots=True)
class Settled:
    """What the store holds once the daemon is done: counts per state, for the test's asserts."""

    states: Counter[State]
    filed: int


async def _rows(engine: AsyncEngine) -> list[tuple[int, str, str, State, str | None, str | None]]:
    columns = (
        complaints.c.id,
        complaints.c.channel,
        complaints.c.source_id,
        complaints.c.state,
        complaints.c.lapor_id,
        complaints.c.lease_owner,
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(select(*columns))).all()
    return [(int(r[0]), r[1], r[2], State(r[3]), r[4], r[5]) for r in rows]


async def settled(engine: AsyncEngine, stored: int = 0) -> bool:
    """True once at least `stored` complaints are stored and none is in a working state (for
    `eventually`)."""
    rows = await _rows(engine)
    return len(rows) >= stored and not any(state in WORKING for _, _, _, state, _, _ in rows)


async def assert_exactly_once(
    engine: AsyncEngine,
    lapor: SimulatorState | None,
    inputs: Collection[tuple[str, str]],
    *,
    allow_working: frozenset[State] = frozenset(),
) -> Settled:
    """Assert the fault left no trace: `inputs` are the (channel, source id) pairs fed in.

    `lapor` is the simulator the daemon filed into (None: the test files nowhere). States in
    `allow_working` may remain (a test that stops before the exporter finishes says so).
    """
    rows = await _rows(engine)
    keys = Counter((channel, source_id) for _, channel, source_id, _, _, _ in rows)
    doubled = sorted(key for key, n in keys.items() if n > 1)
    assert not doubled, f"stored more than once: {doubled[:10]}"
    missing = sorted(set(inputs) - set(keys))
    assert not missing, f"{len(missing)} input(s) never stored, e.g. {missing[:10]}"
    unexpected = sorted(set(keys) - set(inputs))
    assert not unexpected, f"{len(unexpected)} complaint(s) nobody fed in, e.g. {unexpected[:10]}"

    stuck = [(i, s.value) for i, _, _, s, _, _ in rows if s in WORKING and s not in allow_working]
    assert not stuck, f"{len(stuck)} complaint(s) left in a working state, e.g. {stuck[:10]}"
    leased = [i for i, _, _, s, _, owner in rows if owner is not None and s not in allow_working]
    assert not leased, f"{len(leased)} complaint(s) still leased, e.g. {leased[:10]}"

    filed = [(i, lapor_id) for i, _, _, s, lapor_id, _ in rows if s in FILED]
    if lapor is None:
        assert not filed, "complaints marked filed with no LAPOR! to file into"
    else:
        by_tag = Counter(
            tag
            for filing in lapor.filings
            for tag in str(filing.body.get("tags_raw", "")).split()
            if tag.startswith("#MUARA-")
        )
        twice = sorted(tag for tag, n in by_tag.items() if n > 1)
        assert not twice, f"filed into LAPOR! more than once: {twice[:10]}"
        expected = {f"#{reference(i)}" for i, _ in filed}
        not_filed = sorted(expected - set(by_tag))
        assert not not_filed, f"marked filed but not in LAPOR!: {not_filed[:10]}"
        strays = sorted(set(by_tag) - expected)
        assert not strays, f"in LAPOR! but not marked filed in the store: {strays[:10]}"
        ids = {f"#{reference(f_id)}": lapor_id for f_id, lapor_id in filed}
        for filing in lapor.filings:
            tags = [t for t in str(filing.body.get("tags_raw", "")).split() if t in ids]
            for tag in tags:
                assert ids[tag] == str(filing.complaint_id), (tag, ids[tag], filing.complaint_id)
    return Settled(Counter(state for _, _, _, state, _, _ in rows), len(filed))


async def stored_count(engine: AsyncEngine) -> int:
    """How many complaints the store holds (for `eventually`)."""
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(complaints)) or 0)


async def count_in(engine: AsyncEngine, state: State) -> int:
    """How many complaints are in `state`."""
    async with engine.connect() as conn:
        query = select(func.count()).select_from(complaints).where(complaints.c.state == state)
        return int(await conn.scalar(query) or 0)
