"""The clock jumping under the running daemon (forward by days, back by hours): leases, retry
backoff, SLA clocks and the status sync keep working; nothing is doubled or lost.

The daemon's clock is the real time plus an offset the test moves (`ShiftedClock`), as an NTP
step or a restored VM snapshot would. The status sync is polled every 0.2 s instead of 30 s.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from muara.domain import State
from muara.exporters import wiring
from muara.exporters.lapor.faults import FaultKind
from muara.store.engine import create_engine
from muara.store.lapor_tables import lapor_tracking
from tests.faults.checks import assert_exactly_once, count_in, settled
from tests.faults.daemon import ShiftedClock, fault_settings, running_daemon, write_calls
from tests.test_daemon import eventually

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("starter_in_place"),
]

DAY, HOUR = 86400, 3600


async def test_jumps_forward_and_back_double_and_lose_nothing(
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="muara")
    monkeypatch.setattr(wiring, "SYNC_POLL_SECONDS", 0.2)
    clock = ShiftedClock()
    settings = fault_settings(store_url, tmp_path)
    engine = create_engine(store_url)
    inbox = tmp_path / "spool" / "inbox"
    try:
        async with running_daemon(settings, clock=clock) as daemon:
            assert daemon.simulator is not None
            lapor = daemon.simulator.state
            lapor.clock = clock  # LAPOR!'s status times on the same (jumping) clock

            # Some filings fail first, so retries are pending (not_before) across the jumps.
            lapor.faults.add(FaultKind.STATUS, "file", status=503, times=5)
            inputs = write_calls(inbox, "a.csv", range(0, 300))

            def running_on(check: Callable[[], Awaitable[bool]]) -> Callable[[], Awaitable[bool]]:
                """`check`, with the clock run faster while it fails: retry and breaker waits
                are on the daemon's clock, and the test waits on the real one."""

                async def nudged() -> bool:
                    if await check():
                        return True
                    clock.jump(30)
                    return False

                return nudged

            async def filing_started() -> bool:
                return len(lapor.filings) > 0

            await eventually(running_on(filing_started))
            # Forward by three days while batches are under lease and retries are waiting.
            clock.jump(3 * DAY)
            inputs |= write_calls(inbox, "b.csv", range(300, 400))

            async def more_filed() -> bool:
                return len(lapor.filings) >= 150

            await eventually(running_on(more_filed))
            # Back by five hours: leases and retry times now lie further ahead; still honoured.
            clock.jump(-5 * HOUR)
            inputs |= write_calls(inbox, "c.csv", range(400, 500))

            async def all_settled() -> bool:
                return await settled(engine, len(inputs))

            await eventually(running_on(all_settled), timeout=180)
            after_filing = await assert_exactly_once(engine, lapor, inputs)

            # The status sync still reads LAPOR!: complaints closed there close here, even
            # though the backward jump put their next reads hours ahead.
            closing = [f.complaint_id for f in lapor.filings[:10]]
            for lapor_id in closing:
                lapor.set_status(lapor_id, "closed", "Selesai")
            # Filed three days before the forward jump, they are no longer young: read every
            # 6 h (sync_interval_seconds), and the backward jump added 5 h to that.
            clock.jump(12 * HOUR)

            async def closed() -> bool:
                return await count_in(engine, State.CLOSED) == len(closing)

            await eventually(running_on(closed))
            # SLA clocks: every filing has a deadline after its filing time, and the gauges
            # are computed at the jumped time without error.
            async with engine.connect() as conn:
                bad = await conn.scalar(
                    select(func.count())
                    .select_from(lapor_tracking)
                    .where(lapor_tracking.c.due_at <= lapor_tracking.c.filed_at)
                )
            assert bad == 0
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{daemon.ops_url}/metrics") as response,
            ):
                assert response.status == 200
                metrics = await response.text()
            assert "muara_export_circuit_state" in metrics
            result = await assert_exactly_once(engine, lapor, inputs)
            assert result.states[State.CLOSED] == len(closing)
            assert result.filed == after_filing.filed == len(lapor.filings)
    finally:
        await engine.dispose()
    assert "lease lost" not in caplog.text, "one worker per stage: nobody took a lease over"
