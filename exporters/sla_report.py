"""SLA clocks and outbox sizes from the store, for /metrics (at scrape time) and `muara status`.

An open clock is a filed complaint LAPOR! has not closed whose agency has not followed it up yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.store.lapor_tables import lapor_tracking
from muara.store.records import Clock
from muara.store.tables import exports


@dataclass(frozen=True, slots=True)
class AgencySla:
    """Open SLA clocks of one agency."""

    agency: str
    open: int
    due_soon: int
    breached: int


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What the exporter has in the store right now."""

    outbox: dict[tuple[str, str], int] = field(default_factory=dict)
    sla: list[AgencySla] = field(default_factory=list)


async def export_report(
    engine: AsyncEngine, now: datetime, soon: timedelta = timedelta(hours=24)
) -> ExportReport:
    """Outbox rows by target and state; open SLA clocks, due soon and breached, by agency."""
    is_open = (lapor_tracking.c.closed_at.is_(None), lapor_tracking.c.first_response_at.is_(None))
    breached = case((lapor_tracking.c.due_at <= now, 1), else_=0)
    due_soon = case(
        ((lapor_tracking.c.due_at > now) & (lapor_tracking.c.due_at <= now + soon), 1), else_=0
    )
    async with engine.connect() as conn:
        outbox = (
            await conn.execute(
                select(exports.c.target, exports.c.state, func.count()).group_by(
                    exports.c.target, exports.c.state
                )
            )
        ).all()
        sla = (
            await conn.execute(
                select(
                    lapor_tracking.c.agency,
                    func.count(),
                    func.sum(due_soon),
                    func.sum(breached),
                )
                .where(*is_open)
                .group_by(lapor_tracking.c.agency)
                .order_by(lapor_tracking.c.agency)
            )
        ).all()
    return ExportReport(
        outbox={(target, state): int(count) for target, state, count in outbox},
        sla=[
            AgencySla(agency, int(total), int(soon_ or 0), int(late or 0))
            for agency, total, soon_, late in sla
        ],
    )


class ExportCollector(Collector):
    """Outbox and SLA gauges from the last `refresh()` (the /metrics handler calls it first)."""

    def __init__(self, engine: AsyncEngine, clock: Clock, soon: timedelta) -> None:
        self.engine = engine
        self.clock = clock
        self.soon = soon
        self.report: ExportReport | None = None

    async def refresh(self) -> None:
        """Read the store now (no stale figures if it cannot be read)."""
        self.report = None
        self.report = await export_report(self.engine, self.clock(), self.soon)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        outbox = GaugeMetricFamily(
            "muara_export_outbox_rows",
            "Outbox rows by target and state",
            labels=["target", "state"],
        )
        open_ = GaugeMetricFamily(
            "muara_sla_open_complaints",
            "Filed complaints awaiting the agency's first follow-up, by agency",
            labels=["agency"],
        )
        due = GaugeMetricFamily(
            "muara_sla_due_soon_complaints",
            "Open SLA clocks that run out within the next 24 hours (sla.due_soon_hours)",
            labels=["agency"],
        )
        breached = GaugeMetricFamily(
            "muara_sla_breached_complaints",
            "Open SLA clocks past their deadline, by agency",
            labels=["agency"],
        )
        if self.report is not None:
            for (target, state), count in sorted(self.report.outbox.items()):
                outbox.add_metric([target, state], count)
            for row in self.report.sla:
                open_.add_metric([row.agency], row.open)
                due.add_metric([row.agency], row.due_soon)
                breached.add_metric([row.agency], row.breached)
        yield outbox
        yield open_
        yield due
        yield breached


def format_export(report: ExportReport) -> str:
    """Lines for `muara status`: the outbox by state and the SLA clocks by agency."""
    lines = []
    if report.outbox:
        parts = ", ".join(f"{t}/{s} {n}" for (t, s), n in sorted(report.outbox.items()))
        lines.append(f"outbox: {parts}")
    if report.sla:
        lines.append(f"{'SLA (agency)':<14} {'OPEN':>6} {'DUE <24H':>9} {'BREACHED':>9}")
        for row in report.sla:
            lines.append(f"{row.agency:<14} {row.open:>6} {row.due_soon:>9} {row.breached:>9}")
    else:
        lines.append("SLA: no open clocks")
    return "\n".join(lines)
