"""The fault suite's closing check fails on each way a fault can show: a check that cannot fail
would let every fault test pass."""

from __future__ import annotations

import pytest

from muara.domain import State
from muara.exporters.lapor.simulator import SimulatorState, default_institutions
from muara.store.records import Change
from muara.store.repository import Store
from tests.faults.checks import assert_exactly_once
from tests.lapor_helpers import AGENCIES, seed_routed

INPUTS = {("callcenter", "call-1"), ("callcenter", "call-2")}


async def _export(store: Store, ids: list[int], lapor: SimulatorState) -> dict[int, int]:
    """Mark `ids` EXPORTED with a LAPOR! filing each; their LAPOR! ids."""
    filed = {}
    for complaint_id in ids:
        filing = await lapor.accept({"tags_raw": f"#muara #MUARA-{complaint_id}"}, {})
        filed[complaint_id] = filing.complaint_id
    claimed = await store.claim(State.ROUTED, owner="t", limit=10, lease_seconds=60)
    await store.apply(
        "t",
        [
            Change(c.id, State.ROUTED, State.EXPORTED, "t", values={"lapor_id": str(filed[c.id])})
            for c in claimed
        ],
    )
    return filed


async def test_each_kind_of_damage_fails_the_check(store: Store) -> None:
    ids = await seed_routed(store, 2)
    with pytest.raises(AssertionError, match="working state"):
        await assert_exactly_once(store.engine, None, INPUTS)
    with pytest.raises(AssertionError, match="never stored"):
        await assert_exactly_once(store.engine, None, INPUTS | {("callcenter", "call-3")})
    with pytest.raises(AssertionError, match="nobody fed in"):
        await assert_exactly_once(store.engine, None, {("callcenter", "call-1")})

    lapor = SimulatorState(default_institutions(AGENCIES))
    await _export(store, ids, lapor)
    settled = await assert_exactly_once(store.engine, lapor, INPUTS)
    assert settled.filed == 2 and settled.states[State.EXPORTED] == 2

    with pytest.raises(AssertionError, match="no LAPOR! to file into"):
        await assert_exactly_once(store.engine, None, INPUTS)
    empty = SimulatorState(default_institutions(AGENCIES))
    with pytest.raises(AssertionError, match="not in LAPOR!"):
        await assert_exactly_once(store.engine, empty, INPUTS)
    await lapor.accept({"tags_raw": f"#muara #MUARA-{ids[0]}"}, {})
    with pytest.raises(AssertionError, match="more than once"):
        await assert_exactly_once(store.engine, lapor, INPUTS)


async def test_a_filing_nobody_recorded_fails_the_check(store: Store) -> None:
    ids = await seed_routed(store, 2)
    lapor = SimulatorState(default_institutions(AGENCIES))
    await _export(store, ids, lapor)
    await lapor.accept({"tags_raw": "#muara #MUARA-999"}, {})
    with pytest.raises(AssertionError, match="not marked filed"):
        await assert_exactly_once(store.engine, lapor, INPUTS)


async def test_a_leased_complaint_fails_the_check(store: Store) -> None:
    ids = await seed_routed(store, 2)
    lapor = SimulatorState(default_institutions(AGENCIES))
    await _export(store, ids, lapor)
    await store.claim(State.EXPORTED, owner="sync", limit=1, lease_seconds=60)
    with pytest.raises(AssertionError, match="still leased"):
        await assert_exactly_once(store.engine, lapor, INPUTS)
