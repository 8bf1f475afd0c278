"""Every LAPOR! fault of issue 8 against the real stage: each complaint is filed exactly once."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from muara.domain import State
from muara.exporters.lapor.faults import FaultKind
from muara.exporters.lapor.simulator import FIRST_COMPLAINT_ID
from muara.store.repository import Store
from muara.testing import FakeClock
from tests.lapor_helpers import Rig, rig, seed_routed

N = 4

# (name, fault options, what the first call looked like to the client)
FAULTS: list[tuple[str, dict[str, Any], str]] = [
    ("500 before storing", {"kind": FaultKind.STATUS, "status": 500}, "LaporOutcomeUnknown"),
    (
        "500 after storing",
        {"kind": FaultKind.STATUS, "status": 500, "after": True},
        "LaporOutcomeUnknown",
    ),
    ("502 before storing", {"kind": FaultKind.STATUS, "status": 502}, "LaporOutcomeUnknown"),
    (
        "502 after storing",
        {"kind": FaultKind.STATUS, "status": 502, "after": True},
        "LaporOutcomeUnknown",
    ),
    ("503", {"kind": FaultKind.STATUS, "status": 503}, "LaporUnavailable"),
    ("429 Retry-After", {"kind": FaultKind.RATE_LIMITED, "retry_after": 120}, "LaporUnavailable"),
    ("slow but in time", {"kind": FaultKind.SLOW, "delay": 0.1}, ""),
    (
        "timeout after creating",
        {"kind": FaultKind.HANG, "delay": 4, "after": True},
        "LaporOutcomeUnknown",
    ),
    ("timeout before creating", {"kind": FaultKind.HANG, "delay": 4}, "LaporOutcomeUnknown"),
    ("reset before creating", {"kind": FaultKind.RESET}, "LaporOutcomeUnknown"),
    ("reset after creating", {"kind": FaultKind.RESET, "after": True}, "LaporOutcomeUnknown"),
    (
        "invalid JSON after creating",
        {"kind": FaultKind.INVALID_JSON, "after": True},
        "LaporOutcomeUnknown",
    ),
    ("401 expired token", {"kind": FaultKind.UNAUTHORIZED}, "LaporAuthError"),
]


async def assert_filed_once(r: Rig, ids: list[int]) -> None:
    states = await r.states()
    for complaint_id in ids:
        assert states[complaint_id] is State.EXPORTED, complaint_id
        assert r.filings_of(complaint_id) == 1, complaint_id
        [filing] = r.sim.state.filings_tagged(f"MUARA-{complaint_id}")
        row = await r.complaint(complaint_id)
        assert row["lapor_id"] == str(filing.complaint_id)
        assert (await r.outbox(complaint_id))["state"] == "accepted"
    assert len(r.sim.state.filings) == len(ids)


@pytest.mark.parametrize(("options", "error"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
async def test_each_fault_ends_in_exactly_one_filing_per_complaint(
    store: Store,
    clock: FakeClock,
    options: dict[str, Any],
    error: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="muara")
    ids = await seed_routed(store, N)
    async with rig(store, clock) as r:
        fault = dict(options)  # the parameters are shared between the two backends
        r.sim.state.faults.add(fault.pop("kind"), "file", times=2, **fault)

        await r.drive()

        await assert_filed_once(r, ids)
        assert len(r.sim.state.faults.taken) == 2
        if error:
            assert (
                r.metrics.registry.get_sample_value(
                    "muara_export_errors_total", {"target": "lapor", "error": error}
                )
                == 2
            )
    for name in ("Siti Rahayu", "0812-5555-0101", "sampah menumpuk"):
        assert name not in caplog.text


async def test_retry_after_is_honoured(store: Store, clock: FakeClock) -> None:
    [complaint_id] = await seed_routed(store, 1)
    async with rig(store, clock) as r:
        r.sim.state.faults.add(FaultKind.RATE_LIMITED, "file", retry_after=600)
        await r.worker.run_once()

        row = await r.complaint(complaint_id)
        assert row["not_before"] >= clock() + timedelta(seconds=600)
        outbox = await r.outbox(complaint_id)
        assert (outbox["state"], outbox["last_error_class"]) == ("retry", "LaporUnavailable")
        assert outbox["next_attempt_at"] == row["not_before"]


async def test_unknown_outcome_waits_before_the_lookup(store: Store, clock: FakeClock) -> None:
    [complaint_id] = await seed_routed(store, 1)
    async with rig(store, clock, reconcile_after_seconds=300) as r:
        r.sim.state.faults.add(FaultKind.RESET, "file", after=True)
        await r.worker.run_once()
        clock.advance(299)
        assert await r.worker.run_once() == 0, "not looked up before reconcile_after_seconds"
        clock.advance(1)
        await r.worker.run_once()

        lookups = [q for q in r.sim.state.requests if q.path == "/complaints/search"]
        assert len(lookups) == 1
        await assert_filed_once(r, [complaint_id])
        assert (
            r.metrics.registry.get_sample_value(
                "muara_export_reconciled_total", {"target": "lapor", "outcome": "found"}
            )
            == 1
        )


async def test_unanswerable_lookup_holds_with_evidence_then_operator_resolves(
    store: Store, clock: FakeClock
) -> None:
    from muara.exporters.operator import held, resolve

    [complaint_id] = await seed_routed(store, 1)
    async with rig(store, clock, lookup_path="/no/such/search") as r:
        r.sim.state.faults.add(FaultKind.HANG, "file", after=True, delay=4)
        await r.drive()

        assert r.filings_of(complaint_id) == 1
        [item] = await held(store.engine)
        assert item.complaint_id == complaint_id
        assert "MUARA-" in item.reason and "resolve" in item.reason
        assert item.outbox_state == "unknown"
        assert item.evidence is not None
        assert item.evidence["error_class"] == "LaporOutcomeUnknown"
        assert item.evidence["lookup"]["error_class"] == "LaporRejected"
        assert item.evidence["lookup"]["path"] == "/no/such/search"

        lapor_id = str(r.sim.state.filings[0].complaint_id)
        await resolve(store.engine, complaint_id, filed_as=lapor_id, clock=clock)
        await r.drive()

        await assert_filed_once(r, [complaint_id])
        assert await held(store.engine) == []


async def test_lookup_finding_two_filings_holds_for_an_operator(
    store: Store, clock: FakeClock
) -> None:
    from muara.exporters.operator import held

    [complaint_id] = await seed_routed(store, 1)
    async with rig(store, clock) as r:
        r.sim.state.faults.add(FaultKind.RESET, "file", after=True)
        await r.worker.run_once()
        assert r.filings_of(complaint_id) == 1
        # Someone filed it by hand in the meantime.
        await r.sim.state.accept(dict(r.sim.state.filings[0].body), {})
        await r.drive()

        [item] = await held(store.engine)
        assert "2 complaints tagged" in item.reason
        assert item.evidence is not None and len(item.evidence["lookup"]["found"]) == 2
        assert len(r.sim.state.filings) == 2, "nothing filed a third time"


async def test_a_lookup_that_lapor_fails_is_retried_then_held(
    store: Store, clock: FakeClock
) -> None:
    from muara.exporters.operator import held, reconcile_again

    [complaint_id] = await seed_routed(store, 1)
    async with rig(store, clock, reconcile_attempts=2) as r:
        r.sim.state.faults.add(FaultKind.RESET, "file", after=True)
        r.sim.state.faults.add(FaultKind.STATUS, "lookup", status=503, times=2)
        await r.drive()

        [item] = await held(store.engine)
        assert item.complaint_id == complaint_id
        assert r.filings_of(complaint_id) == 1

        assert await reconcile_again(store.engine, None) == [complaint_id]
        await r.drive()
        await assert_filed_once(r, [complaint_id])


async def test_retry_budget_then_dead_letter_then_requeue(store: Store, clock: FakeClock) -> None:
    from muara.exporters.operator import requeue

    [complaint_id] = await seed_routed(store, 1)
    async with rig(store, clock, max_attempts=3) as r:
        r.sim.state.faults.add(FaultKind.STATUS, "file", status=503, times=3)
        await r.drive(step=700)

        assert (await r.states())[complaint_id] is State.EXPORT_FAILED
        outbox = await r.outbox(complaint_id)
        assert (outbox["state"], outbox["attempts"]) == ("failed", 3)
        assert r.sim.state.filings == []
        assert (
            r.metrics.registry.get_sample_value(
                "muara_export_dead_letters_total", {"target": "lapor"}
            )
            == 1
        )

        assert await requeue(store.engine, None, actor="operator:test", clock=clock) == [
            complaint_id
        ]
        await r.drive()
        await assert_filed_once(r, [complaint_id])


async def test_refused_filing_is_a_dead_letter_at_once(store: Store, clock: FakeClock) -> None:
    [complaint_id] = await seed_routed(store, 1)
    async with rig(store, clock, institutions={"DLH": 424242}) as r:
        await r.drive()
        assert (await r.states())[complaint_id] is State.EXPORT_FAILED
        outbox = await r.outbox(complaint_id)
        assert (outbox["attempts"], outbox["last_error_class"]) == (1, "LaporRejected")


async def test_interrupted_call_is_reconciled_not_resent(store: Store, clock: FakeClock) -> None:
    """A `sending` row left by a crash: LAPOR! got the filing, so it is found, not filed again."""
    from muara.store.outbox import Outbox

    [complaint_id] = await seed_routed(store, 1)
    async with rig(store, clock) as r:
        outbox = Outbox(store.engine, "lapor", clock=clock)
        await outbox.mark_sending({}, [complaint_id])
        await r.sim.state.accept({"tags_raw": f"#muara #MUARA-{complaint_id}", "title": "x"}, {})
        await r.drive()

        assert r.filings_of(complaint_id) == 1
        assert (await r.complaint(complaint_id))["lapor_id"] == str(FIRST_COMPLAINT_ID)


async def test_breaker_opens_stops_calls_and_shows_in_metrics(
    store: Store, clock: FakeClock
) -> None:
    ids = await seed_routed(store, 6)
    async with rig(
        store, clock, breaker_failures=2, breaker_cooldown_seconds=120, concurrency=1
    ) as r:
        r.sim.state.faults.add(FaultKind.STATUS, "file", status=503, times=100)
        await r.worker.run_once()

        calls = [q for q in r.sim.state.requests if q.method == "POST"]
        assert len(calls) == 6, "one batch was in flight when it opened"
        assert not r.stage.ready()
        gauge = r.metrics.registry.get_sample_value(
            "muara_export_circuit_state", {"target": "lapor"}
        )
        assert gauge == 1
        clock.advance(60)
        await r.worker.run_once()
        assert len([q for q in r.sim.state.requests if q.method == "POST"]) == 6, (
            "no calls while open"
        )

        r.sim.state.faults.pending.clear()
        clock.advance(700)
        await r.drive()
        assert r.stage.ready()
        await assert_filed_once(r, ids)
