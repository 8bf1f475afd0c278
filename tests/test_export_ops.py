"""What operators see of the exporter: SLA and outbox gauges, /readyz, status, `muara lapor`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from muara.cli import main
from muara.config import load_settings
from muara.domain import State
from muara.exporters.lapor.faults import FaultKind
from muara.exporters.sla_report import ExportCollector, export_report, format_export
from muara.status import render_status
from muara.store.repository import Store
from muara.testing import FakeClock
from muara.web import OpsContext, create_ops_app
from tests.lapor_helpers import Rig, rig, seed_routed

# Monday 16 November 2026, 09:00 WIB.
START = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


async def serve(ops: OpsContext) -> AsyncIterator[str]:
    runner = web.AppRunner(create_ops_app(ops), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def filed(store: Store, clock: FakeClock, r: Rig) -> None:
    await seed_routed(store, 2, agency="DLH")
    await r.drive()
    clock.advance(86400)
    await seed_routed(store, 1, agency="PDAM", start=10)
    await r.drive()


async def test_sla_gauges_by_agency_due_soon_and_breached(store: Store, clock: FakeClock) -> None:
    async with rig(store, clock) as r:
        await filed(store, clock, r)
        collector = ExportCollector(store.engine, clock, timedelta(hours=24))
        r.metrics.registry.register(collector)

        def gauge(name: str, agency: str) -> float | None:
            return r.metrics.registry.get_sample_value(name, {"agency": agency})

        await collector.refresh()
        assert gauge("muara_sla_open_complaints", "DLH") == 2
        assert gauge("muara_sla_due_soon_complaints", "DLH") == 0
        # DLH filed Monday: due at the end of Thursday 26 Nov; Thursday 10:00 WIB is within 24 h.
        clock.now = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
        await collector.refresh()
        assert gauge("muara_sla_due_soon_complaints", "DLH") == 2
        assert gauge("muara_sla_breached_complaints", "DLH") == 0
        assert gauge("muara_sla_due_soon_complaints", "PDAM") == 0
        clock.now = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
        await collector.refresh()
        assert gauge("muara_sla_breached_complaints", "DLH") == 2
        assert gauge("muara_sla_due_soon_complaints", "PDAM") == 1
        assert (
            r.metrics.registry.get_sample_value(
                "muara_export_outbox_rows", {"target": "lapor", "state": "accepted"}
            )
            == 3
        )

        report = await export_report(store.engine, clock())
        text = format_export(report)
        assert "lapor/accepted 3" in text
        assert any(line.split()[:4] == ["DLH", "2", "0", "2"] for line in text.splitlines())


async def test_status_command_shows_the_sla(store: Store, clock: FakeClock, store_url: str) -> None:
    async with rig(store, clock) as r:
        await filed(store, clock, r)
    text = await render_status(
        load_settings(store={"url": store_url}), clock=lambda: START + timedelta(days=11)
    )
    assert "SLA (agency)" in text
    assert "PDAM" in text


async def test_readyz_and_metrics_show_the_circuit_breaker(store: Store, clock: FakeClock) -> None:
    await seed_routed(store, 3)
    async with rig(store, clock, breaker_failures=2) as r:
        collector = ExportCollector(store.engine, clock, timedelta(hours=24))
        r.metrics.registry.register(collector)
        ops = OpsContext(
            store,
            r.metrics,
            {},
            extra_checks={"lapor_circuit": r.stage.ready},
            scrape_hooks=[collector.refresh],
        )
        async for url in serve(ops):
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{url}/readyz") as response:
                    assert response.status == 200
                r.sim.state.faults.add(FaultKind.STATUS, "file", status=503, times=3)
                await r.worker.run_once()
                async with http.get(f"{url}/readyz") as response:
                    body = await response.json()
                    assert response.status == 503
                    assert body["checks"]["lapor_circuit"] == "failing"
                async with http.get(f"{url}/metrics") as response:
                    metrics = await response.text()
                assert 'muara_export_circuit_state{target="lapor"} 1.0' in metrics
                assert 'muara_export_outbox_rows{state="retry",target="lapor"} 3.0' in metrics
                assert (
                    'muara_export_retries_total{error="LaporUnavailable",target="lapor"} 3.0'
                    in metrics
                )


async def test_lapor_commands(
    store: Store,
    clock: FakeClock,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("MUARA_STORE__URL", store_url)
    monkeypatch.chdir(tmp_path)  # no muara.toml here
    ids = await seed_routed(store, 2)
    async with rig(store, clock, institutions={"DLH": 999}) as r:
        await r.drive()  # refused: dead letters
        assert set((await r.states()).values()) == {State.EXPORT_FAILED}

        assert await asyncio.to_thread(main, ["lapor", "outbox", "--state", "failed"]) == 0
        out = capsys.readouterr().out
        assert f"#{ids[0]}" in out and "LaporRejected" in out
        assert await asyncio.to_thread(main, ["lapor", "requeue", str(ids[0])]) == 0
        assert f"requeued 1 complaint(s): {ids[0]}" in capsys.readouterr().out
        assert (await r.states())[ids[0]] is State.ROUTED
        assert await asyncio.to_thread(main, ["lapor", "requeue", "--all"]) == 0
        assert f"requeued 1 complaint(s): {ids[1]}" in capsys.readouterr().out
        assert (await r.states())[ids[1]] is State.ROUTED
    # `held` with the evidence, then `resolve`.
    async with rig(store, clock, lookup_path="/nope") as r2:
        r2.sim.state.faults.add(FaultKind.RESET, "file", after=True)
        await r2.drive()
        assert await asyncio.to_thread(main, ["lapor", "held"]) == 0
        out = capsys.readouterr().out
        assert "outbox=unknown" in out and "evidence:" in out and "LaporRejected" in out
        [held_id] = [int(line.split()[0][1:]) for line in out.splitlines() if line[:1] == "#"]
        lapor_id = str(r2.sim.state.filings[0].complaint_id)
        assert (
            await asyncio.to_thread(
                main, ["lapor", "resolve", str(held_id), "--filed-as", lapor_id]
            )
            == 0
        )
        await r2.drive()
        assert set((await r2.states()).values()) == {State.EXPORTED}
        assert len(r2.sim.state.filings) == 2, "each complaint once"
        assert await asyncio.to_thread(main, ["lapor", "resolve", str(held_id), "--not-filed"]) == 1


async def test_sync_institutions_command(
    store: Store,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from muara.exporters.lapor.models import Institution
    from muara.exporters.lapor.simulator import SimulatorServer, SimulatorState
    from muara.store.outbox import Outbox
    from tests.lapor_helpers import KEY, TOKEN

    state = SimulatorState([Institution(77, "Dinas Lingkungan Hidup"), Institution(78, "Lain")])
    async with SimulatorServer(state, token=TOKEN, key=KEY) as sim:
        for name, value in {
            "MUARA_STORE__URL": store_url,
            "MUARA_LAPOR__BASE_URL": sim.url,
            "MUARA_LAPOR__TOKEN": TOKEN,
            "MUARA_LAPOR__KEY": KEY,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        assert await asyncio.to_thread(main, ["lapor", "sync-institutions"]) == 0

    out = capsys.readouterr().out
    assert "DLH" in out and "-> 77" in out
    assert "not found by name" in out and "PDAM" in out
    mapping = await Outbox(store.engine, "lapor", clock=store.clock).institution_ids()
    assert mapping == {"DLH": 77}


def test_a_lookup_sooner_than_a_call_may_take_is_refused() -> None:
    """Looking a filing up while its call may still be in flight would file it twice."""
    from pydantic import ValidationError

    from muara.exporters.settings import LaporSettings

    with pytest.raises(ValidationError, match="reconcile_after_seconds must be longer"):
        LaporSettings(timeout_seconds=30, reconcile_after_seconds=10)
    accepted = LaporSettings(timeout_seconds=30, reconcile_after_seconds=31)
    assert accepted.reconcile_after_seconds == 31
    # The file sink makes no calls, so there is nothing in flight to race.
    LaporSettings(sink="file", timeout_seconds=30, reconcile_after_seconds=0)
