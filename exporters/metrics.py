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


class ReviewQueueCollector(Collector):
    """The review queue's size and its oldest complaint's age, set by a scrape hook (review/)."""

    def __init__(self) -> None:
        self.size: int | None = None
        self.oldest_age_seconds = 0.0

    def collect(self) -> Iterable[GaugeMetricFamily]:
        size = GaugeMetricFamily("muara_review_queue_size", "Complaints waiting for a coordinator")
        age = GaugeMetricFamily(
            "muara_review_queue_oldest_age_seconds",
            "Age of the oldest complaint waiting for a coordinator (0 when none waits)",
        )
        if self.size is not None:
            size.add_metric([], self.size)
            age.add_metric([], self.oldest_age_seconds)
        yield size
        yield age


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
        self.source_reading = Gauge(
            "muara_source_reading",
            "1 while this replica holds a source's lease and reads it, 0 while it stands by",
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
        # classify/: the model in use (info: version, source) and what it suggests, by agency.
        self.classifier_model = Info(
            "muara_classifier_model", "The classifier model in use", registry=r
        )
        self.suggestions = Counter(
            "muara_classifier_suggestions_total",
            "Suggestions made, by suggested agency",
            ["agency"],
            registry=r,
        )
        self.decisions = Counter(
            "muara_router_decisions_total",
            "Routing decisions by mode and outcome",
            ["mode", "state"],
            registry=r,
        )
        # -- duplicate detection in the route stage (issue 7) ---------------------------------
        self.duplicates = Counter(
            "muara_router_duplicates_total",
            "Complaints linked to an earlier one as DUPLICATE, by why (reporter, text, event)",
            ["kind"],
            registry=r,
        )
        self.duplicate_races = Counter(
            "muara_router_duplicate_races_total",
            "Route batches checked again because another replica indexed a repeat meanwhile",
            registry=r,
        )
        self.duplicate_check_seconds = Histogram(
            "muara_router_duplicate_check_seconds",
            "Time to check one batch against the duplicate index",
            registry=r,
        )
        # -- channels: router rules, X (issue 5) -------------------------------------------------
        self.rule_matches = Counter(
            "muara_router_rule_matches_total",
            "Complaints a routing rule decided, by rule name",
            ["rule"],
            registry=r,
        )
        self.rule_errors = Counter(
            "muara_router_rule_errors_total",
            "Routing rules that raised, by rule name and exception class",
            ["rule", "error"],
            registry=r,
        )
        self.x_rate_limited = Counter(
            "muara_x_rate_limit_waits_total",
            "429 answers of the X API the collector slept through, by source",
            ["source"],
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
        # -- LAPOR! exporter (issue 8) ----------------------------------------------------------
        self.export_retries = Counter(
            "muara_export_retries_total",
            "Filings deferred for another attempt, by error class",
            ["target", "error"],
            registry=r,
        )
        self.export_dead_letters = Counter(
            "muara_export_dead_letters_total",
            "Complaints moved to EXPORT_FAILED (retry budget spent or refused)",
            ["target"],
            registry=r,
        )
        self.export_held = Counter(
            "muara_export_held_total",
            "Complaints held for an operator by the exporter, by reason",
            ["target", "reason"],
            registry=r,
        )
        self.export_reconciled = Counter(
            "muara_export_reconciled_total",
            "Outcome-unknown filings settled by looking them up, by what was found",
            ["target", "outcome"],
            registry=r,
        )
        self.export_forwards = Counter(
            "muara_export_forwards_total",
            "Filed complaints forwarded to another institution after re-routing",
            ["target"],
            registry=r,
        )
        self.export_circuit = Gauge(
            "muara_export_circuit_state",
            "Circuit breaker of a target: 0 closed, 1 open, 2 half-open",
            ["target"],
            registry=r,
        )
        self.lapor_sync = Counter(
            "muara_lapor_status_sync_total",
            "Status reads of filed complaints, by outcome",
            ["outcome"],
            registry=r,
        )
        self.lapor_closed = Counter(
            "muara_lapor_closed_total", "Complaints closed because LAPOR! closed them", registry=r
        )
        self.task_restarts = Counter(
            "muara_task_restarts_total",
            "Supervised tasks restarted after a failure",
            ["task"],
            registry=r,
        )
        self.anonymised = Counter(
            "muara_retention_anonymised_total",
            "Complaints whose personal data the retention job removed",
            registry=r,
        )
        # Set at each scrape from the /readyz checks, so an alert need not probe /readyz.
        self.ready = Gauge(
            "muara_ready", "1 when /readyz answers ready, else 0 (see /readyz for why)", registry=r
        )
        self.build = Info("muara_build", "Muara version", registry=r)
        self.build.info({"version": __version__})
        self.snapshot = StoreSnapshotCollector()
        r.register(self.snapshot)
        # -- review desk (issue 7); coordinators' decisions also count in `decisions` ----------
        self.review_queue = ReviewQueueCollector()
        r.register(self.review_queue)
        self.review_suggestions = Counter(
            "muara_review_suggestions_total",
            "Coordinators' routings by whether they kept the classifier's suggestion "
            "(agreement rate = agreed / all)",
            ["outcome"],
            registry=r,
        )
