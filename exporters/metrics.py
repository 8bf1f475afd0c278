"""Prometheus metrics for ops. Labels are channels, sources, stages, states and targets only:
never anything a citizen wrote (DESIGN.md invariant 6)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from muara import __version__
from muara.store.records import StatusReport


class StoreSnapshotCollector(Collector):
    """Gauges that reflect the store, computed at scrape time from a fresh `StatusReport`."""

    def __init__(self) -> None:
        self.report: StatusReport | None = None

    def collect(self) -> Iterable[GaugeMetricFamily]:
        by_state = GaugeMetricFamily(
            "muara_complaints",
            "Complaints in the store by state and channel",
            labels=["state", "channel"],
        )
        quarantined = GaugeMetricFamily(
            "muara_quarantine_records",
            "Quarantine records in the store by channel",
            labels=["channel"],
        )
        held = GaugeMetricFamily("muara_complaints_held", "Complaints held for an operator")
        if self.report is not None:
            for row in self.report.states:
                by_state.add_metric([row.state, row.channel], row.count)
            for channel, count in self.report.quarantined.items():
                quarantined.add_metric([channel], count)
            held.add_metric([], self.report.held)
        yield by_state
        yield quarantined
        yield held


class Metrics:
    """Every metric Muara exports, on one injected registry (a fresh one per test)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.ingested = Counter(
            "muara_ingest_complaints_total", "Complaints stored", ["channel"], registry=r
        )
        self.already_known = Counter(
            "muara_ingest_already_known_total",
            "Inputs that were already stored (re-reads after a crash, re-dropped files)",
            ["channel"],
            registry=r,
        )
        self.quarantined = Counter(
            "muara_ingest_quarantined_total",
            "Inputs quarantined as unparseable",
            ["channel"],
            registry=r,
        )
        self.discarded = Counter(
            "muara_ingest_discarded_total",
            "Inputs discarded as not a complaint",
            ["channel"],
            registry=r,
        )
        self.last_poll = Gauge(
            "muara_source_last_success_timestamp_seconds",
            "When a source was last polled successfully (Unix time)",
            ["source", "channel"],
            registry=r,
        )
        self.poll_failures = Counter(
            "muara_source_poll_failures_total",
            "Failed polls of a source",
            ["source", "channel"],
            registry=r,
        )
        self.stage_processed = Counter(
            "muara_stage_processed_total", "Complaints a stage has handled", ["stage"], registry=r
        )
        self.confidence = Histogram(
            "muara_classifier_confidence",
            "Confidence of the classifier's best suggestion",
            buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
            registry=r,
        )
        self.decisions = Counter(
            "muara_router_decisions_total",
            "Routing decisions by mode and outcome",
            ["mode", "state"],
            registry=r,
        )
        self.exported = Counter(
            "muara_export_filed_total", "Complaints accepted by a target", ["target"], registry=r
        )
        self.export_errors = Counter(
            "muara_export_errors_total",
            "Failed filing attempts by error class",
            ["target", "error"],
            registry=r,
        )
        self.export_latency = Histogram(
            "muara_export_latency_seconds",
            "From received_at to acceptance by the target",
            ["target"],
            buckets=(60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600),
            registry=r,
        )
        self.task_restarts = Counter(
            "muara_task_restarts_total",
            "Supervised tasks restarted after a failure",
            ["task"],
            registry=r,
        )
        self.build = Info("muara_build", "Muara version", registry=r)
        self.build.info({"version": __version__})
        self.snapshot = StoreSnapshotCollector()
        r.register(self.snapshot)
