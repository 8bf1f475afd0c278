"""`muara status`: what is in the store, by state and channel, and how old the oldest item is."""

from __future__ import annotations

from datetime import datetime, timedelta

from muara.config import Settings
from muara.domain import State
from muara.exporters.sla_report import export_report, format_export
from muara.store.engine import create_engine, current_revision
from muara.store.records import Clock, StatusReport, utc_now
from muara.store.repository import Store


def _age(oldest: datetime | None, now: datetime) -> str:
    if oldest is None:
        return "-"
    seconds = max(0, int((now - oldest).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return f"{days}d {hours}h" if days else f"{hours}h {minutes}m"


def format_status(report: StatusReport, now: datetime) -> str:
    """A plain-text table, states in flow order."""
    order = {state.value: index for index, state in enumerate(State)}
    rows = sorted(report.states, key=lambda r: (order.get(r.state, 99), r.channel))
    lines = [f"{'STATE':<14} {'CHANNEL':<12} {'COUNT':>8}  OLDEST (received)"]
    for row in rows:
        lines.append(
            f"{row.state:<14} {row.channel:<12} {row.count:>8}  {_age(row.oldest_received_at, now)}"
        )
    if not rows:
        lines.append("(no complaints yet)")
    totals = report.by_state()
    lines.append("")
    lines.append("total: " + (", ".join(f"{k} {v}" for k, v in totals.items()) or "0"))
    quarantined = sum(report.quarantined.values())
    lines.append(
        f"quarantined inputs: {quarantined}"
        + (
            f" ({', '.join(f'{c} {n}' for c, n in sorted(report.quarantined.items()))})"
            if quarantined
            else ""
        )
    )
    lines.append(f"held for an operator: {report.held}")
    return "\n".join(lines)


async def render_status(settings: Settings, clock: Clock = utc_now) -> str:
    """Read the store and format its status."""
    engine = create_engine(settings.store_url)
    try:
        if await current_revision(engine) is None:
            return "the store is empty: `muara migrate` (or `muara run`) creates it"
        report = await Store(engine, clock=clock).status()
        exporter = await export_report(  # the LAPOR! outbox and SLA clocks (issue 8)
            engine, clock(), timedelta(hours=settings.sla.due_soon_hours)
        )
    finally:
        await engine.dispose()
    return format_status(report, clock()) + "\n" + format_export(exporter)
