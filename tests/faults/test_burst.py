"""A burst of 10,000 complaints into the spool: each stored once, each routed one filed once.

SQLite (the embedded default): one writer, so this is the slowest store; the burst arrives as
five exports of 2,000 rows dropped at once. The time it takes is printed, never asserted
(bench/pipeline.py measures throughput).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from muara.store.engine import create_engine, migrate
from tests.faults.checks import assert_exactly_once, settled
from tests.faults.daemon import fault_settings, running_daemon, write_calls
from tests.test_daemon import eventually

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.usefixtures("starter_in_place"),
]

BURST = 10_000
FILES = 5


async def test_a_burst_of_ten_thousand_is_stored_and_filed_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="muara")
    url = f"sqlite+aiosqlite:///{tmp_path / 'muara.db'}"
    engine = create_engine(url)
    await migrate(engine)
    # The rows reuse the starter model's 1,440 texts, which the duplicate index rightly links
    # (same words, same kelurahan): off, so that the whole burst reaches the exporter.
    settings = fault_settings(
        url,
        tmp_path,
        workers={"idle_seconds": 0.05, "batch_size": 500},
        router={"auto_route_threshold": 0.0, "duplicates": {"enabled": False}},
    )
    inbox = tmp_path / "spool" / "inbox"
    try:
        async with running_daemon(settings) as daemon:
            assert daemon.simulator is not None
            started = time.perf_counter()
            inputs: set[tuple[str, str]] = set()
            per_file = BURST // FILES
            for n in range(FILES):
                ids = range(n * per_file, (n + 1) * per_file)
                inputs |= write_calls(inbox, f"burst-{n}.csv", ids, prefix="burst")

            async def done() -> bool:
                return await settled(engine, BURST)

            await eventually(done, timeout=240)
            elapsed = time.perf_counter() - started
            result = await assert_exactly_once(engine, daemon.simulator.state, inputs)
        print(
            f"\nburst: {BURST} complaints stored, {result.filed} filed in {elapsed:.1f} s "
            f"({BURST / elapsed:,.0f}/s); states {dict(result.states)}"
        )
        assert result.filed > BURST // 2, result.states
    finally:
        await engine.dispose()
    assert not any(r.levelno >= logging.ERROR for r in caplog.records), caplog.text[-2000:]
