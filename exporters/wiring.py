"""The LAPOR! exporter as the daemon runs it: the export stage, its periodic tasks, its checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp

from muara.config import Settings
from muara.exporters.file_sink import FileSinkStage
from muara.exporters.filing import FilingStage
from muara.exporters.institutions import agency_names, sync_institutions
from muara.exporters.lapor.client import LaporClient
from muara.exporters.lapor.errors import LaporError
from muara.exporters.metrics import Metrics
from muara.exporters.settings import LaporSettings
from muara.exporters.sla_report import ExportCollector
from muara.exporters.status_sync import StatusSync
from muara.store.records import Clock
from muara.store.repository import Store
from muara.supervisor import TaskBody, TaskHealth
from muara.worker import Stage

log = logging.getLogger(__name__)

# How often the status sync looks for filings whose next read is due.
SYNC_POLL_SECONDS = 30.0


@dataclass
class LaporExport:
    """What the daemon starts for the exporter."""

    stage: Stage
    tasks: dict[str, Callable[[asyncio.Event], TaskBody]] = field(default_factory=dict)
    checks: dict[str, Callable[[], bool]] = field(default_factory=dict)
    scrape_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def periodic(
    seconds: float, work: Callable[[], Awaitable[int]]
) -> Callable[[asyncio.Event], TaskBody]:
    """A task body running `work` every `seconds` (at once again while it finds a full batch)."""

    def make(stop: asyncio.Event) -> TaskBody:
        async def body(health: TaskHealth) -> None:
            while not stop.is_set():
                more = await work()
                health.succeeded()
                if more:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), seconds)

        return body

    return make


async def build_lapor_export(
    settings: Settings,
    lapor: LaporSettings,
    store: Store,
    metrics: Metrics,
    session: aiohttp.ClientSession | None,
    clock: Clock,
) -> LaporExport:
    """The API exporter (with status and institutions sync) or the file sink, per `lapor.sink`."""
    collector = ExportCollector(store.engine, clock, timedelta(hours=settings.sla.due_soon_hours))
    metrics.registry.register(collector)
    if lapor.sink == "file":
        folder = lapor.file_dir or settings.data_dir / "lapor-export"
        log.info("LAPOR! file sink: routed complaints are written to %s", folder)
        stage = FileSinkStage(store, lapor, folder, metrics)
        return LaporExport(stage, scrape_hooks=[collector.refresh])
    assert session is not None
    client = LaporClient(lapor, session)
    names = agency_names(settings)
    if settings.lapor.base_url is None:  # the embedded simulator: map the starter agencies now
        await sync_institutions(client, store.engine, names, clock=clock)
    filing = FilingStage(store, client, lapor, metrics, sla=settings.sla)
    export = LaporExport(filing, checks={"lapor_circuit": filing.ready})
    export.scrape_hooks.append(collector.refresh)
    if lapor.sync_enabled:
        sync = StatusSync(
            store.engine,
            client,
            lapor,
            settings.sla,
            metrics,
            clock=clock,
            paused=lambda: not filing.ready(),
        )

        async def sync_round() -> int:
            return int(await sync.run_once() >= lapor.sync_batch)

        export.tasks["lapor:status-sync"] = periodic(SYNC_POLL_SECONDS, sync_round)
    if lapor.institutions_sync_seconds > 0 and settings.lapor.base_url is not None:
        failing = False

        async def institutions_round() -> int:
            nonlocal failing
            try:
                report = await sync_institutions(client, store.engine, names, clock=clock)
            except LaporError as err:
                if not failing:  # once when it starts failing, not on every round
                    log.warning("LAPOR! institutions sync failed (%s); mapping kept", err)
                failing = True
                return 0
            failing = False
            log.info("LAPOR! institutions synced: %d agencies mapped", len(report.matched))
            return 0

        export.tasks["lapor:institutions"] = periodic(
            lapor.institutions_sync_seconds, institutions_round
        )
    return export
