"""LAPOR! down for an hour of (injected) time: the outbox backs off, the breaker opens, nothing
is dead-lettered, and once LAPOR! is back every complaint is filed exactly once.

The first half hour LAPOR! answers 503 to every filing; the second it is gone (connection
refused). The daemon's clock is the real time plus an offset the test jumps forward.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.classify.starter import STARTER_AGENCIES
from muara.domain import State
from muara.exporters.lapor.faults import FaultKind
from muara.exporters.lapor.simulator import (
    SimulatorServer,
    SimulatorState,
    default_institution_ids,
    default_institutions,
)
from muara.store.engine import create_engine
from muara.store.tables import complaints, exports
from tests.faults.checks import assert_exactly_once, count_in, settled
from tests.faults.daemon import (
    ShiftedClock,
    fault_settings,
    readyz,
    running_daemon,
    write_calls,
)
from tests.test_daemon import eventually

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("starter_in_place"),
]

TOKEN, KEY = "tok-fault", "key-fault"
STEP = 300  # seconds of injected time per jump
MAX_ATTEMPTS = 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server(state: SimulatorState, port: int) -> SimulatorServer:
    return SimulatorServer(state, token=TOKEN, key=KEY, port=port)


async def test_an_hour_without_lapor_files_everything_once_after(
    store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="muara")
    clock = ShiftedClock()
    state = SimulatorState(default_institutions(STARTER_AGENCIES))
    port = _free_port()
    settings = fault_settings(
        store_url,
        tmp_path,
        lapor={
            "base_url": f"http://127.0.0.1:{port}",
            "token": SecretStr(TOKEN),
            "key": SecretStr(KEY),
            "institutions": default_institution_ids(STARTER_AGENCIES),
            "timeout_seconds": 5,
            "rate_per_second": 0,
            "retry_seconds": 60,
            "max_attempts": MAX_ATTEMPTS,
            "breaker_failures": 3,
            "breaker_cooldown_seconds": 240,
            "reconcile_after_seconds": 6,
        },
    )
    engine = create_engine(store_url)
    inbox = tmp_path / "spool" / "inbox"
    server = _server(state, port)
    await server.start()
    try:
        async with running_daemon(settings, clock=clock) as daemon:
            inputs = write_calls(inbox, "before.csv", range(0, 20))

            async def before_filed() -> bool:
                return await settled(engine, len(inputs))

            await eventually(before_filed)
            baseline = len(state.filings)
            assert baseline > 0

            # Down: 503 to every filing for half an hour, then no server at all for another.
            state.faults.add(FaultKind.STATUS, "file", status=503, times=1_000_000)
            inputs |= write_calls(inbox, "during.csv", range(20, 120))

            async def waiting_for_lapor() -> bool:
                return await count_in(engine, State.ROUTED) > 0 and not any(inbox.iterdir())

            await eventually(waiting_for_lapor)

            async def breaker_open() -> bool:
                return "circuit breaker open" in caplog.text

            await eventually(breaker_open)

            async def batch_done() -> bool:
                return await _in_flight(engine) == 0

            await eventually(batch_done)
            assert (await readyz(daemon))["checks"]["lapor_circuit"] == "failing"
            # The batch in flight when it opened was sent (filing.py checks the breaker per
            # batch); from then on, one trial call per cooldown.
            opened_at_calls = _posts(state)
            for step in range(12):
                if step == 6:
                    await server.stop()
                clock.jump(STEP)
                await _pause()
            assert len(state.filings) == baseline, "nothing filed while LAPOR! was down"
            assert _posts(state) - opened_at_calls <= 2 * 6, "backed off while it answered 503"
            assert await count_in(engine, State.EXPORT_FAILED) == 0, "no dead letter for an outage"
            assert await _outbox_failed(engine) == 0

            # Back: the same LAPOR! (same filings) on the same port.
            state.faults.pending.clear()
            server = _server(state, port)
            await server.start()
            for _ in range(40):  # each pass: let due retries run, then move to the next ones
                if await settled(engine, len(inputs)):
                    break
                await _pause()
                clock.jump(STEP)
            await eventually(before_filed)
            result = await assert_exactly_once(engine, state, inputs)
            assert result.filed == len(state.filings)
            assert "circuit breaker closed" in caplog.text
            assert (await readyz(daemon))["checks"]["lapor_circuit"] == "ok"
    finally:
        await server.stop()
        await engine.dispose()


async def _pause() -> None:
    """Real time for the stages to act on the clock's new time (they poll every 50 ms)."""
    await asyncio.sleep(0.5)


def _posts(state: SimulatorState) -> int:
    """Filing calls LAPOR! has seen (answered or not)."""
    return sum(1 for q in state.requests if q.method == "POST")


async def _in_flight(engine: AsyncEngine) -> int:
    """Complaints under a lease or filings marked `sending`: a batch is being worked on."""
    async with engine.connect() as conn:
        leased = await conn.scalar(
            select(func.count())
            .select_from(complaints)
            .where(complaints.c.lease_owner.is_not(None))
        )
        sending = await conn.scalar(
            select(func.count()).select_from(exports).where(exports.c.state == "sending")
        )
        return int(leased or 0) + int(sending or 0)


async def _outbox_failed(engine: AsyncEngine) -> int:
    """Filings the outbox gave up on (dead letters)."""
    async with engine.connect() as conn:
        query = select(func.count()).select_from(exports).where(exports.c.state == "failed")
        return int(await conn.scalar(query) or 0)
