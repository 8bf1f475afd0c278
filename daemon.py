"""The daemon: opens the store, starts every collector and stage worker as a supervised task,
serves /healthz, /readyz and /metrics, and shuts down cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.classify.holder import ModelHolder, open_classifier
from muara.classify.stage import ClassifyStage
from muara.classify.starter import STARTER_AGENCIES
from muara.config import Settings
from muara.domain import NewComplaint, RawInput
from muara.exporters.backlog import BacklogCollector
from muara.exporters.lapor.simulator import (
    SimulatorServer,
    SimulatorState,
    default_institutions,
)
from muara.exporters.metrics import Metrics
from muara.exporters.settings import LaporSettings
from muara.exporters.wiring import LaporExport, build_lapor_export
from muara.heap import freeze_startup_heap
from muara.ingest.base import Collector, ReportsProgress, Stored
from muara.ingest.registry import build_collectors, spool_sources, transcript_sources
from muara.privacy.retention import TASK_NAME, RetentionJob
from muara.review.app import mount_review
from muara.review.context import forwarding_deadline
from muara.router.stage import RouteStage
from muara.router.wiring import router_rules
from muara.store.engine import (
    create_engine,
    current_revision,
    head_revision,
    is_sqlite,
    migrate,
)
from muara.store.records import Clock, utc_now
from muara.store.repository import Store
from muara.store.source_leases import (
    AlwaysHeld,
    SourceLeases,
    SqliteProcessLock,
    source_leases,
)
from muara.supervisor import Supervisor, TaskBody, TaskHealth
from muara.web import OpsContext, create_ops_app
from muara.worker import Stage, StageWorker

log = logging.getLogger(__name__)


class StoreNotReadyError(RuntimeError):
    """The store's schema is older than this release expects."""


async def prepare_store(engine: AsyncEngine) -> None:
    """Migrate an empty store; refuse one at an older revision (an operator runs the upgrade)."""
    revision = await current_revision(engine)
    if revision is None:
        log.info("empty store: applying migrations")
        await migrate(engine)
    elif revision != head_revision():
        raise StoreNotReadyError(
            f"the store is at schema revision {revision}, this release needs {head_revision()}: "
            "run `muara migrate` first"
        )


class MeteredSink:
    """The store as collectors see it, counting what they hand over per channel."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self.inner = store
        self.metrics = metrics

    def _count(self, channel: str, pairs: list[tuple[NewComplaint, Stored]]) -> None:
        created = [complaint for complaint, result in pairs if result.created]
        if discarded := sum(1 for complaint in created if complaint.discard_reason):
            self.metrics.discarded.labels(channel).inc(discarded)
        if kept := len(created) - discarded:
            self.metrics.ingested.labels(channel).inc(kept)
        if known := len(pairs) - len(created):
            self.metrics.already_known.labels(channel).inc(known)

    async def store(self, complaint: NewComplaint, raw: RawInput | None) -> Stored:
        """Store one complaint and count it."""
        return (await self.store_many([(complaint, raw)]))[0]

    async def store_many(self, items: list[tuple[NewComplaint, RawInput | None]]) -> list[Stored]:
        """Store complaints in one transaction and count them per channel."""
        results = await self.inner.store_many(items)
        for channel in {complaint.channel for complaint, _ in items}:
            self._count(
                channel,
                [(c, r) for (c, _), r in zip(items, results, strict=True) if c.channel == channel],
            )
        return results

    async def quarantine(self, raw: RawInput, error_class: str, reason: str) -> Stored:
        """Quarantine bad input and count it."""
        result = await self.inner.quarantine(raw, error_class, reason)
        if result.created:
            self.metrics.quarantined.labels(raw.channel).inc()
            log.warning("quarantined input from %s: %s (%s)", raw.channel, reason, error_class)
        return result


@contextlib.contextmanager
def signal_handlers(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> Iterator[None]:
    """Route SIGTERM/SIGINT to `stop` while the daemon runs; restore the defaults after."""
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or not Unix
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


class Daemon:
    """Muara's long-running service."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics(registry)
        self.stop_event = asyncio.Event()
        self.ready = asyncio.Event()
        self.ops_url: str | None = None
        self.lapor_url: str | None = None
        self.simulator: SimulatorServer | None = None
        self.supervisor: Supervisor | None = None
        self.leases: SourceLeases = AlwaysHeld()

    def request_stop(self) -> None:
        """Stop taking work; what is in hand is finished within the shutdown timeout."""
        if not self.stop_event.is_set():
            log.info("shutdown requested: finishing work in hand")
        self.stop_event.set()

    async def run(self) -> None:
        """Run until `request_stop` (or a signal); return after a clean shutdown."""
        loop = asyncio.get_running_loop()
        async with AsyncExitStack() as stack:
            stack.enter_context(signal_handlers(loop, self.request_stop))
            await self._start(stack)
            self.ready.set()
            await self.stop_event.wait()
            assert self.supervisor is not None
            unfinished = await self.supervisor.shutdown(self.settings.workers.shutdown_timeout)
            if unfinished:
                log.warning(
                    "shutdown timeout: cancelled %s; their leases were released",
                    ", ".join(unfinished),
                )
        log.info("stopped")

    async def _start(self, stack: AsyncExitStack) -> None:
        settings = self.settings
        engine = create_engine(settings.store_url, echo=settings.store.echo)
        stack.push_async_callback(engine.dispose)
        if is_sqlite(engine) and engine.url.database not in (None, ":memory:"):
            process_lock = SqliteProcessLock(Path(engine.url.database))
            process_lock.acquire()
            stack.callback(process_lock.release)
        await prepare_store(engine)
        self.leases = source_leases(engine, stall_seconds=settings.workers.stall_seconds)
        stack.push_async_callback(self.leases.close)
        store = Store(engine, clock=self.clock)
        sink = MeteredSink(store, self.metrics)
        supervisor = Supervisor(
            self.stop_event,
            backoff_max=settings.workers.restart_backoff_max,
            on_restart=lambda name: self.metrics.task_restarts.labels(name).inc(),
            clock=self.clock,
        )
        self.supervisor = supervisor

        # The registry's active model (else model_path, else the starter), swapped when another
        # is activated: the classify stage refreshes it between batches (classify/holder.py).
        model: ModelHolder = await open_classifier(
            settings, engine, clock=self.clock, metrics=self.metrics
        )
        stages: list[Stage] = [
            ClassifyStage(store, model, self.metrics, refresh=model.refresh),
            RouteStage(
                store,
                settings.router,
                self.metrics,
                router_rules(settings, model),
                thresholds=model.thresholds_for,
                gazetteer=model().gazetteer,
            ),
        ]
        lapor_export: LaporExport | None = None
        if settings.lapor.enabled:  # the LAPOR! exporter (exporters/wiring.py)
            lapor, session = settings.lapor, None
            if lapor.sink == "api":
                lapor = await self._start_lapor(stack, settings.lapor)
                session = await stack.enter_async_context(aiohttp.ClientSession())
            lapor_export = await build_lapor_export(
                settings, lapor, store, self.metrics, session, self.clock
            )
            stages.append(lapor_export.stage)

        sources: set[str] = set()
        collectors = build_collectors(
            settings, engine=engine, clock=self.clock, stop=self.stop_event, metrics=self.metrics
        )
        for collector in collectors:
            sources.add(f"collector:{collector.name}")
            supervisor.start(f"collector:{collector.name}", self._poll_loop(collector, sink))
        for stage in stages:
            worker = StageWorker(stage, store, settings.workers)
            supervisor.start(f"stage:{stage.name}", self._stage_loop(worker))
        if settings.retention.enabled:  # personal data of finished complaints (privacy/)
            retention = RetentionJob(engine, settings.retention, self.metrics, clock=self.clock)
            supervisor.start(TASK_NAME, retention.task(self.stop_event))

        ops = OpsContext(store, self.metrics, supervisor.health, sources)
        backlog = BacklogCollector(engine, self.clock)  # oldest waiting per stage, at scrape time
        self.metrics.registry.register(backlog)
        ops.scrape_hooks.append(backlog.refresh)
        if lapor_export is not None:
            for name, make_body in lapor_export.tasks.items():
                supervisor.start(name, make_body(self.stop_event))
            ops.extra_checks.update(lapor_export.checks)
            ops.scrape_hooks.extend(lapor_export.scrape_hooks)
        ops_app = create_ops_app(ops)
        if settings.review.enabled:  # the coordinators' review desk at /review/ (review/app.py)
            mount_review(
                ops_app,
                ops,
                engine,
                settings.review,
                self.metrics,
                self.clock,
                agency_codes=lambda: (*model().labels, *model().known_offices()),
                deadline=forwarding_deadline(settings.sla) if settings.lapor.enabled else None,
            )
        runner = web.AppRunner(ops_app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.http.host, settings.http.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.ops_url = f"http://{host}:{port}"
        log.info(
            "muara started: metrics %s/metrics, readiness %s/readyz; %d source(s), store %s",
            self.ops_url,
            self.ops_url,
            len(sources),
            engine.url.render_as_string(hide_password=True),
        )
        for source in spool_sources(settings):
            log.info(
                "spool %s: drop call-center CSV files into %s", source.name, source.path / "inbox"
            )
        for folder in transcript_sources(settings):
            log.info("112 %s: drop call transcripts into %s", folder.name, folder.path / "inbox")
        log.debug("start-up heap frozen: %d object(s)", freeze_startup_heap())

    async def _start_lapor(self, stack: AsyncExitStack, lapor: LaporSettings) -> LaporSettings:
        if lapor.base_url is not None:
            return lapor
        # The embedded default files into an in-process simulator, never into the real LAPOR!.
        token, key = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        state = SimulatorState(institutions=default_institutions(STARTER_AGENCIES))
        simulator = await stack.enter_async_context(
            SimulatorServer(state, token=token, key=key, file_path=lapor.file_path)
        )
        self.lapor_url = simulator.url
        self.simulator = simulator
        log.info("LAPOR! simulator (in-process) at %s", simulator.url)
        return lapor.model_copy(
            update={"base_url": simulator.url, "token": SecretStr(token), "key": SecretStr(key)}
        )

    def _poll_loop(self, collector: Collector, sink: MeteredSink) -> TaskBody:
        async def body(health: TaskHealth) -> None:
            last_poll = self.metrics.last_poll.labels(collector.name, collector.channel)
            reading = self.metrics.source_reading.labels(collector.name, collector.channel)

            def progressed() -> None:
                health.succeeded()
                last_poll.set(self.clock().timestamp())

            if isinstance(collector, ReportsProgress):
                # A poll that waits in IDLE for minutes still says at once that it reads again.
                collector.on_progress = progressed
            while not self.stop_event.is_set():
                if not await self.leases.hold(collector.name):
                    reading.set(0)
                    # Another replica reads this source; stand by to take over if it dies.
                    health.standing_by("another replica reads this source")
                    # Ask again every takeover_seconds, not poll_seconds (0 for an IDLE mailbox).
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self.stop_event.wait(), self.settings.workers.takeover_seconds
                        )
                    continue
                reading.set(1)
                try:
                    await collector.poll(sink)
                except Exception:
                    self.metrics.poll_failures.labels(collector.name, collector.channel).inc()
                    raise
                progressed()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), collector.poll_seconds)

        return body

    def _stage_loop(self, worker: StageWorker) -> TaskBody:
        async def body(health: TaskHealth) -> None:
            while not self.stop_event.is_set():
                handled = await worker.run_once()
                health.succeeded()
                if handled:
                    self.metrics.stage_processed.labels(worker.stage.name).inc(handled)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), worker.settings.idle_seconds)

        return body
