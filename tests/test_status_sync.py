"""Status sync against the simulator: history kept, SLA clock moved, closed complaints closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from muara.domain import State
from muara.exporters.lapor.faults import FaultKind
from muara.exporters.lapor.payload import WIB
from muara.exporters.settings import SlaSettings
from muara.exporters.status_sync import (
    StatusSync,
    followup_entries,
    is_closed,
    parse_lapor_time,
)
from muara.store.lapor_tables import lapor_followups, lapor_status_history, lapor_tracking
from muara.store.repository import Store
from muara.testing import FakeClock
from tests.lapor_helpers import Rig, rig, seed_routed

# Monday 16 November 2026, 09:00 WIB: a plain working week.
START = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)


def sync_for(r: Rig) -> StatusSync:
    return StatusSync(
        r.store.engine,
        r.stage.client,
        r.stage.settings,
        SlaSettings(),
        r.metrics,
        clock=r.clock,
    )


async def tracked(store: Store, complaint_id: int) -> dict[str, object]:
    async with store.engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(lapor_tracking).where(lapor_tracking.c.complaint_id == complaint_id)
                )
            )
            .mappings()
            .one()
        )
        return dict(row)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


async def test_sync_follows_a_complaint_to_closed(store: Store, clock: FakeClock) -> None:
    [complaint_id] = await seed_routed(store, 1)
    async with rig(store, clock) as r:
        r.sim.state.clock = clock
        await r.drive()
        sync = sync_for(r)
        track = await tracked(store, complaint_id)
        lapor_id = int(str(track["lapor_id"]))
        # Filed Monday 09:00 WIB: 3 verification + 5 follow-up working days -> Thu 26 Nov ends.
        assert track["due_at"] == datetime(2026, 11, 27, tzinfo=WIB)

        assert await sync.run_once() == 0, "not due before the young interval"
        clock.advance(3600)
        assert await sync.run_once() == 1
        assert (await tracked(store, complaint_id))["status_name"] == "Belum Terverifikasi"

        clock.advance(3600)
        r.sim.state.set_status(lapor_id, "verified", "Terverifikasi")  # Monday 11:00 WIB
        clock.advance(86400)
        r.sim.state.add_followup(lapor_id, "Petugas sudah dijadwalkan", 1001)
        clock.advance(3600)
        await sync.run_once()
        track = await tracked(store, complaint_id)
        assert track["forwarded_at"] == START + timedelta(hours=2)
        # Five working days after Monday: Tue..Mon -> due at the end of Monday 23 November.
        assert track["due_at"] == datetime(2026, 11, 24, tzinfo=WIB)
        assert track["first_response_at"] == START + timedelta(hours=26)

        r.sim.state.set_status(lapor_id, "closed", "Selesai")
        clock.advance(3600)
        await sync.run_once()

        assert (await r.states())[complaint_id] is State.CLOSED
        track = await tracked(store, complaint_id)
        assert track["closed_at"] == clock()
        async with store.engine.connect() as conn:
            codes = list(
                (
                    await conn.execute(
                        select(lapor_status_history.c.status_code).order_by(
                            lapor_status_history.c.at
                        )
                    )
                ).scalars()
            )
            followups = (await conn.execute(select(lapor_followups.c.content))).scalars().all()
        assert codes == ["unverified", "verified", "closed"]
        assert followups == ["Petugas sudah dijadwalkan"]
        assert r.metrics.registry.get_sample_value("muara_lapor_closed_total") == 1
        clock.advance(30 * 86400)
        assert await sync.run_once() == 0, "a closed complaint is not read again"


async def test_old_filings_are_read_less_often_and_failures_wait(
    store: Store, clock: FakeClock
) -> None:
    [complaint_id] = await seed_routed(store, 1)
    async with rig(store, clock) as r:
        await r.drive()
        sync = sync_for(r)
        r.sim.state.faults.add(FaultKind.STATUS, "status", status=503)
        clock.advance(3600)
        await sync.run_once()
        track = await tracked(store, complaint_id)
        assert track["sync_failures"] == 1
        assert track["next_sync_at"] == clock() + timedelta(seconds=3600)
        assert (
            r.metrics.registry.get_sample_value(
                "muara_lapor_status_sync_total", {"outcome": "LaporUnavailable"}
            )
            == 1
        )

        clock.advance(4 * 86400)  # no longer young
        await sync.run_once()
        track = await tracked(store, complaint_id)
        assert track["sync_failures"] == 0
        assert track["next_sync_at"] == clock() + timedelta(hours=6)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("24-11-2026 09:00:05", datetime(2026, 11, 24, 9, 0, 5, tzinfo=WIB)),
        ("2026-11-24T02:00:00+00:00", datetime(2026, 11, 24, 2, 0, tzinfo=UTC)),
        ("2026-11-24 09:00:00", datetime(2026, 11, 24, 9, 0, tzinfo=WIB)),
        ("kemarin", None),
        (None, None),
        (12, None),
    ],
)
def test_parse_lapor_time(value: object, expected: datetime | None) -> None:
    assert parse_lapor_time(value) == expected


def test_closed_statuses_are_configuration_and_any_case() -> None:
    assert is_closed("CLOSED", None, ["closed"])
    assert is_closed("x", "Selesai", ["selesai"])
    assert not is_closed("process", "Proses", ["closed", "selesai"])


def test_followups_without_an_id_get_a_stable_key() -> None:
    rows = [{"created_at": "24-11-2026 09:00:00", "content": "Sudah"}]
    assert followup_entries(rows) == followup_entries(list(rows))
    assert followup_entries(rows)[0].key.startswith("sha256:")
    assert followup_entries([{"id": 7, "created_at": "24-11-2026 09:00:00"}])[0].key == "id:7"
