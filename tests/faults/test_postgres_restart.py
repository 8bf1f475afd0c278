"""PostgreSQL restarted under the running daemon: it waits, reconnects, and loses nothing.

The cluster is the test's own (conftest.py): the machine's PostgreSQL serves other tests.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from muara.store.engine import create_engine
from tests.faults.checks import assert_exactly_once, settled
from tests.faults.conftest import PrivatePostgres
from tests.faults.daemon import fault_settings, readyz, running_daemon, write_calls
from tests.test_daemon import eventually

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("starter_in_place"),
]


async def test_restart_and_outage_lose_nothing(
    private_postgres: PrivatePostgres,
    private_store_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="muara")
    inbox = tmp_path / "spool" / "inbox"
    # Filings take 6 s in the outage phase: well within the call's timeout, and long enough
    # for the server to be down when their answers come back, even on a loaded machine.
    settings = fault_settings(
        private_store_url,
        tmp_path,
        lapor={"timeout_seconds": 15, "reconcile_after_seconds": 16, "rate_per_second": 0},
    )
    inputs: set[tuple[str, str]] = set()
    engine = create_engine(private_store_url)
    try:
        async with running_daemon(settings) as daemon:
            assert daemon.simulator is not None
            lapor = daemon.simulator.state
            inputs |= write_calls(inbox, "a.csv", range(0, 300))

            async def some_filed() -> bool:
                return len(lapor.filings) > 0

            await eventually(some_filed)
            # A restart while the first export is being filed and a second one is read in.
            inputs |= write_calls(inbox, "b.csv", range(300, 600))
            await asyncio.to_thread(private_postgres.restart)
            # Then a crash and an outage of some seconds, begun while LAPOR! is taking filings
            # (each takes 6 s): their answers come back with no store to record them in.
            # Readiness says so, the daemon waits it out, and files none of them again.
            lapor.latency = 6.0
            inputs |= write_calls(inbox, "c.csv", range(600, 700))

            async def filing_in_flight() -> bool:
                posts = sum(1 for q in lapor.requests if q.method == "POST")
                return posts > len(lapor.filings)

            await eventually(filing_in_flight)
            await asyncio.to_thread(private_postgres.stop, "immediate")  # as if it crashed
            inputs |= write_calls(inbox, "d.csv", range(700, 800))

            async def not_ready() -> bool:
                body = await readyz(daemon)
                return bool(body["status"] == "not ready" and body["checks"]["store"] != "ok")

            await eventually(not_ready)
            await asyncio.sleep(3)  # the outage lasts: tasks fail and back off meanwhile
            assert (tmp_path / "spool" / "inbox" / "d.csv").exists(), "nothing read while down"
            lapor.latency = 0.0
            await asyncio.to_thread(private_postgres.start)
            inputs |= write_calls(inbox, "e.csv", range(800, 900))

            async def done() -> bool:
                return not any(inbox.iterdir()) and await settled(engine, len(inputs))

            await eventually(done, timeout=180)

            async def ready() -> bool:
                return bool((await readyz(daemon))["status"] == "ready")

            await eventually(ready)
            result = await assert_exactly_once(engine, lapor, inputs)
            assert result.filed > 0
            # The filings in flight at the crash end either looked up in LAPOR! (their answer was
            # lost with the store) or recorded once the store is back, depending on when their
            # answer came: which one is timing, so only the outcome is asserted: each filed once.
    finally:
        await engine.dispose()
        if not (private_postgres.data / "postmaster.pid").exists():
            await asyncio.to_thread(private_postgres.start)
    messages = [r.getMessage() for r in caplog.records]
    assert any("failed" in m and "restarting with backoff" in m for m in messages), messages
    assert any("recovered" in m for m in messages)
