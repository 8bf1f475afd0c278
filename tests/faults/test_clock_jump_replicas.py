"""Two replicas on one PostgreSQL store, and the clock jumping forward while a filing is in
flight: leases held by one replica expire at once on the jumped clock, and the other takes the
batch over. The outbox must keep the complaint from being filed twice."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from pydantic import SecretStr

from muara.classify.starter import STARTER_AGENCIES
from muara.exporters.lapor.simulator import (
    SimulatorServer,
    SimulatorState,
    default_institution_ids,
    default_institutions,
)
from muara.store.engine import create_engine
from tests.faults.checks import assert_exactly_once, settled
from tests.faults.daemon import ShiftedClock, fault_settings, running_daemon, write_calls
from tests.test_daemon import eventually

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("starter_in_place"),
]

TOKEN, KEY = "tok-replicas", "key-replicas"
DAY = 86400


async def test_a_forward_jump_under_an_in_flight_filing_files_it_once(
    pg_database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="muara")
    clock = ShiftedClock()
    state = SimulatorState(default_institutions(STARTER_AGENCIES))
    engine = create_engine(pg_database)
    inbox = tmp_path / "spool" / "inbox"
    async with SimulatorServer(state, token=TOKEN, key=KEY) as server, AsyncExitStack() as stack:
        lapor = {
            "base_url": server.url,
            "token": SecretStr(TOKEN),
            "key": SecretStr(KEY),
            "institutions": default_institution_ids(STARTER_AGENCIES),
            "timeout_seconds": 5,
            "rate_per_second": 0,
            "reconcile_after_seconds": 6,
        }
        for _ in range(2):
            settings = fault_settings(pg_database, tmp_path, lapor=lapor)
            await stack.enter_async_context(running_daemon(settings, clock=clock))
        try:
            inputs = write_calls(inbox, "a.csv", range(0, 20))

            async def all_settled() -> bool:
                return await settled(engine, len(inputs))

            await eventually(all_settled)
            state.latency = 3.0
            inputs |= write_calls(inbox, "b.csv", range(20, 40))

            async def filing_in_flight() -> bool:
                posts = sum(1 for q in state.requests if q.method == "POST")
                return posts > len(state.filings)

            await eventually(filing_in_flight)
            clock.jump(DAY)

            async def taken_over() -> bool:
                return "lease lost" in caplog.text

            # The batch's lease expired on the jumped clock: the other replica took it over,
            # found the filings marked `sending`, and looked them up once the calls had ended
            # (reconcile_after_seconds > timeout_seconds) instead of filing them again.
            await eventually(taken_over)
            state.latency = 0.0
            await eventually(all_settled)
            await assert_exactly_once(engine, state, inputs)
            assert "found in LAPOR! by its reference; not filed again" in caplog.text
        finally:
            await engine.dispose()
