"""Monitoring as shipped: the Prometheus alerts and the Grafana dashboard in deploy/ must be valid,
must fire when they should (promtool's unit tests), and may only use metrics the real daemon
exports; the ops gauges they rely on (readiness, source readers, oldest waiting) must be true."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from muara.daemon import Daemon
from muara.domain import State
from muara.exporters.backlog import BacklogCollector
from muara.exporters.metrics import Metrics
from muara.store.engine import create_engine
from muara.store.records import utc_now
from muara.store.tables import complaints
from tests.test_daemon import HEADER, ROWS, daemon_settings, eventually, run_daemon

REPO = Path(__file__).resolve().parents[1]
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
ALERTS_TEST = REPO / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "muara.json"
README = REPO / "README.md"

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)"
)

# Series Prometheus makes itself, not Muara: the scrape's own health.
PROMETHEUS_OWN = {"up"}
# Words of PromQL that look like metric names: functions are told apart by their "(".
PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan",
}  # fmt: skip


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool in deploy/prometheus (alerts_test.yml names alerts.yml relative to it)."""
    return subprocess.run(
        ["promtool", *args],
        cwd=ALERTS.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (labels, strings, durations, functions out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values, templates
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges and subqueries
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w:.$])[A-Za-z_:][\w:]*(?!\w)(\s*\()?", expr):
        word = match.group(0).rstrip("( \t\n")
        if match.group(1) is None and word.lower() not in PROMQL_WORDS:
            names.add(word)
    return names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('up{job="muara"} == 0', {"up"}),
        (
            "time() - max without (instance) (muara_source_last_success_timestamp_seconds) > 900",
            {"muara_source_last_success_timestamp_seconds"},
        ),
        (
            'sum by (le) (rate(a_bucket{job="$job", x=~"y|z"}[$__rate_interval])) / on(job) b',
            {"a_bucket", "b"},
        ),
        ("deriv(job:x:max[30m]) > 0 and c offset 5m", {"job:x:max", "c"}),
        ("histogram_quantile(0.95, sum by (le) (rate(h_bucket[1h])))", {"h_bucket"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of alerts.yml (alerting and recording)."""
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def dashboard_queries() -> list[str]:
    """Every PromQL query of the dashboard: the panels' targets and the variables'."""
    exprs = [
        target["expr"]
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            series = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
            assert series is not None, query
            exprs.append(series.group(1))
    return exprs


def exported_names(registry: CollectorRegistry) -> set[str]:
    """Every series name the registry can expose, labelled or not yet observed, with suffixes."""
    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "info": ("_info",),
        "stateset": ("",),
        "unknown": ("",),
    }
    return {
        family.name + suffix for family in registry.collect() for suffix in suffixes[family.type]
    }


async def scrape(daemon: Daemon) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """GET /metrics: sample name -> labels -> value."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{daemon.ops_url}/metrics") as response,
    ):
        assert response.status == 200
        text = await response.text()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


async def readyz_status(daemon: Daemon) -> int:
    """GET /readyz: its HTTP status."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{daemon.ops_url}/readyz") as response,
    ):
        return response.status


# -- alerts ----------------------------------------------------------------------------------


@needs_promtool
def test_the_alert_rules_are_valid() -> None:
    result = promtool("check", "rules", ALERTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_the_alerts_fire_and_stay_quiet_as_their_unit_tests_say() -> None:
    result = promtool("test", "rules", ALERTS_TEST.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    alerts = {rule["alert"] for rule in alert_rules() if "alert" in rule}
    cases = yaml.safe_load(ALERTS_TEST.read_text(encoding="utf-8"))["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert alerts - firing == set(), "alerts no unit test sees firing"
    assert alerts - quiet == set(), "alerts no unit test sees quiet"


def test_every_alert_says_how_bad_what_happened_and_where_the_runbook_is() -> None:
    readme = README.read_text(encoding="utf-8")
    assert "## Running in production" in readme and "### Alerts" in readme
    alerts_section = readme.split("### Alerts", 1)[1].split("\n## ", 1)[0]
    for rule in alert_rules():
        if "alert" not in rule:
            assert rule["record"].count(":") == 2, "recording rules are named level:metric:ops"
            continue
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        assert annotations["runbook_url"].endswith("README.md#alerts"), name
        assert f"`{name}`" in alerts_section, f"{name} has no row in README's Alerts section"


# -- the dashboard ---------------------------------------------------------------------------


def test_the_dashboard_is_an_importable_grafana_dashboard() -> None:
    board = dashboard()
    assert board["uid"] == "muara-overview" and board["title"] == "Muara"
    assert isinstance(board["schemaVersion"], int)
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    graphs = [panel for panel in board["panels"] if panel["type"] != "row"]
    assert len(graphs) >= 20
    for panel in graphs:
        assert panel["title"] and panel["description"], panel["id"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys()
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]


def test_the_dashboard_shows_what_an_operator_needs() -> None:
    used = set().union(*(metric_names(expr) for expr in dashboard_queries()))
    for needed in (
        "muara_ready",
        "muara_source_last_success_timestamp_seconds",
        "muara_ingest_complaints_total",
        "muara_stage_processed_total",
        "muara_complaints_oldest_age_seconds",
        "muara_export_outbox_rows",
        "muara_export_dead_letters_total",
        "muara_export_latency_seconds_bucket",
        "muara_sla_breached_complaints",
        "muara_review_queue_size",
        "muara_review_queue_oldest_age_seconds",
        "muara_review_suggestions_total",
        "muara_classifier_confidence_bucket",
        "muara_router_decisions_total",
    ):
        assert needed in used, needed


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool parses the rule expressions: each query becomes a recording rule, with Grafana's
    # variables replaced by what they stand for.
    rules = [
        {
            "record": f"dashboard:query_{index}:check",
            "expr": expr.replace("$__rate_interval", "5m")
            .replace("$job", "muara")
            .replace("$instance", ".*"),
        }
        for index, expr in enumerate(dashboard_queries())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- against the real daemon -----------------------------------------------------------------


async def test_alerts_and_dashboard_use_only_metrics_muara_exports(tmp_path: Path) -> None:
    settings = daemon_settings(f"sqlite+aiosqlite:///{tmp_path / 'muara.db'}", tmp_path)
    inbox = tmp_path / "spool" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "calls.csv").write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    async with run_daemon(settings) as daemon:
        assert daemon.simulator is not None
        state = daemon.simulator.state

        async def all_filed() -> bool:
            return len(state.filings) >= len(ROWS)

        await eventually(all_filed)
        samples = await scrape(daemon)
        exported = exported_names(daemon.metrics.registry)
    # What a scrape shows is what the registry says it exports (the list below is not stale).
    assert set(samples) <= exported
    recorded = {rule["record"] for rule in alert_rules() if "record" in rule}
    for origin, exprs in (
        ("alerts.yml", [rule["expr"] for rule in alert_rules()]),
        ("muara.json", dashboard_queries()),
    ):
        used = set().union(*(metric_names(expr) for expr in exprs)) - recorded - PROMETHEUS_OWN
        assert used, origin
        assert used - exported == set(), f"{origin} uses metrics Muara does not export"
    # The series the alerts watch exist from the first scrape, not only after a failure.
    for name in (
        "muara_ready",
        "muara_source_reading",
        "muara_source_last_success_timestamp_seconds",
        "muara_complaints",
        "muara_complaints_oldest_age_seconds",
        "muara_complaints_held",
        "muara_review_queue_oldest_age_seconds",
        "muara_export_circuit_state",
        "muara_build_info",
    ):
        assert samples.get(name), f"{name} has no series"


async def test_the_ops_gauges_tell_ready_reading_and_waiting(
    store_url: str, tmp_path: Path
) -> None:
    # Without the exporter, routed complaints wait in ROUTED: the export backlog of a LAPOR! outage.
    settings = daemon_settings(store_url, tmp_path, lapor={"enabled": False})
    inbox = tmp_path / "spool" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "calls.csv").write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    async with run_daemon(settings) as daemon:

        async def all_routed() -> bool:
            samples = await scrape(daemon)
            routed = samples.get("muara_complaints", {})
            return sum(v for k, v in routed.items() if ("state", "ROUTED") in k) == len(ROWS)

        await eventually(all_routed)
        assert await readyz_status(daemon) == 200
        samples = await scrape(daemon)
    assert samples["muara_ready"][()] == 1
    assert samples["muara_source_reading"][(("channel", "callcenter"), ("source", "cc"))] == 1
    ages = {dict(k)["state"]: v for k, v in samples["muara_complaints_oldest_age_seconds"].items()}
    assert ages.keys() == {"NEW", "CLASSIFIED", "ROUTED"}
    assert ages["NEW"] == ages["CLASSIFIED"] == 0  # nothing waits there
    assert 0 < ages["ROUTED"] < 600

    # Two hours on, the oldest routed complaint has waited two hours more; held ones do not count.
    engine = create_engine(store_url)
    try:
        later = BacklogCollector(engine, lambda: utc_now() + timedelta(hours=2))
        await later.refresh()
        assert later.ages is not None
        assert 7200 < later.ages[State.ROUTED] < 7200 + 600
        async with engine.begin() as conn:
            await conn.execute(update(complaints).values(held_reason="operator check"))
        await later.refresh()
        assert later.ages == dict.fromkeys(later.ages, 0.0)
    finally:
        await engine.dispose()


async def test_muara_ready_agrees_with_readyz(tmp_path: Path) -> None:
    # A spool folder that cannot be made: its collector fails, so the daemon is not ready.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    settings = daemon_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'muara.db'}",
        tmp_path,
        spool=[{"name": "cc", "path": blocker / "spool", "poll_seconds": 0.05}],
        lapor={"enabled": False},
    )
    async with run_daemon(settings) as daemon:

        async def failed_once() -> bool:
            return bool((await scrape(daemon)).get("muara_source_poll_failures_total"))

        await eventually(failed_once)
        assert await readyz_status(daemon) == 503
        samples = await scrape(daemon)
    assert samples["muara_ready"][()] == 0


async def test_one_replica_reads_a_source_the_other_stands_by_then_takes_over(
    pg_database: str, tmp_path: Path
) -> None:
    # MuaraSourceUnread and the dashboard's "Sources read" count on exactly this.
    spool = {"name": "cc", "path": tmp_path / "spool", "poll_seconds": 0.05, "stable_seconds": 0}
    workers = {"idle_seconds": 0.05, "shutdown_timeout": 5, "takeover_seconds": 0.2}
    settings = [
        daemon_settings(
            pg_database,
            tmp_path,
            data_dir=tmp_path / f"data-{replica}",
            http={"port": 0},
            spool=[spool],
            workers=workers,
            lapor={"enabled": False},
        )
        for replica in ("a", "b")
    ]
    labels = (("channel", "callcenter"), ("source", "cc"))

    async def reading(daemon: Daemon) -> float | None:
        return (await scrape(daemon)).get("muara_source_reading", {}).get(labels)

    async with run_daemon(settings[0]) as first, run_daemon(settings[1]) as second:

        async def one_reads() -> bool:
            return {await reading(first), await reading(second)} == {0.0, 1.0}

        await eventually(one_reads)
        reader, standby = (first, second) if await reading(first) == 1 else (second, first)
        reader.request_stop()  # the reader goes away: the standby takes the source over

        async def taken_over() -> bool:
            return await reading(standby) == 1

        await eventually(taken_over)


def test_the_metric_set_covers_design_md() -> None:
    # DESIGN.md, "Metrics": per channel ingested, discarded, quarantined, duplicates, time since
    # the last poll; classifier; router with the review queue; exporter with outbox, latency, SLA.
    names = exported_names(Metrics(CollectorRegistry()).registry)
    for needed in (
        "muara_ingest_complaints_total",
        "muara_ingest_discarded_total",
        "muara_ingest_quarantined_total",
        "muara_source_last_success_timestamp_seconds",
        "muara_source_reading",
        "muara_classifier_confidence_bucket",
        "muara_classifier_suggestions_total",
        "muara_classifier_model_info",
        "muara_router_decisions_total",
        "muara_review_queue_size",
        "muara_review_queue_oldest_age_seconds",
        "muara_export_filed_total",
        "muara_export_errors_total",
        "muara_export_retries_total",
        "muara_export_dead_letters_total",
        "muara_export_latency_seconds_bucket",
        "muara_ready",
        "muara_complaints",  # by state and channel: DUPLICATE, EXPORT_FAILED, ROUTED …
    ):
        assert needed in names, needed
