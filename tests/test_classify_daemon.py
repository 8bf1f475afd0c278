"""A running daemon picks up a newly activated model without a restart."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import select

from muara.classify.fitting import train_model
from muara.classify.registry import ModelRegistry
from muara.daemon import Daemon
from muara.store.engine import create_engine
from muara.store.records import utc_now
from muara.store.tables import suggestions
from tests.test_daemon import HEADER, ROWS, daemon_settings, eventually


class ShiftableClock:
    """Real time, plus whatever the test jumps ahead: the daemon runs normally meanwhile."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utc_now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


async def test_an_activated_model_is_used_without_a_restart(store_url: str, tmp_path: Path) -> None:
    clock = ShiftableClock()
    settings = daemon_settings(store_url, tmp_path, lapor={"enabled": False})
    metrics = CollectorRegistry()
    daemon = Daemon(settings, clock=clock, registry=metrics)
    task = asyncio.create_task(daemon.run())
    engine = create_engine(store_url)
    inbox = tmp_path / "spool" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)

    async def versions() -> list[str]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(suggestions.c.model_version).order_by(suggestions.c.id)
            )
            return [row.model_version for row in rows]

    try:
        await asyncio.wait_for(daemon.ready.wait(), 60)
        (inbox / "first.csv").write_text(HEADER + ROWS[0] + "\n", encoding="utf-8")

        async def first_classified() -> bool:
            return len(await versions()) == 1

        await eventually(first_classified)
        [starter] = await versions()
        assert starter.startswith("starter-")
        info = "muara_classifier_model_info"
        assert metrics.get_sample_value(info, {"version": starter, "source": "starter"}) == 1

        texts = ["jalan berlubang", "aspal rusak", "sampah menumpuk", "bau sampah"]
        model = train_model(texts, ["DPUBM", "DPUBM", "DLH", "DLH"], version="region-v2")
        await ModelRegistry(engine, clock).add(model, activate=True)
        clock.advance(settings.classifier.registry_poll_seconds + 1)
        (inbox / "second.csv").write_text(HEADER + ROWS[1] + "\n", encoding="utf-8")

        async def second_classified() -> bool:
            return len(await versions()) == 2

        await eventually(second_classified)
        assert await versions() == [starter, "region-v2"]
        assert metrics.get_sample_value(info, {"version": "region-v2", "source": ""}) == 1
    finally:
        daemon.request_stop()
        async with asyncio.timeout(30):
            await task
        await engine.dispose()
