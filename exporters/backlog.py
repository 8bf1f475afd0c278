"""How long the oldest complaint has waited for each stage, for /metrics (at scrape time).

A count alone cannot tell a busy pipeline from a stuck one: a backlog of a thousand that moves is
fine, ten complaints that have sat in ROUTED for an hour mean LAPOR! is not taking them. The age of
the oldest one waiting tells them apart, so the alerts (deploy/prometheus/alerts.yml) use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.domain import State
from muara.store.records import Clock
from muara.store.tables import complaints

# The states a stage worker takes its work from: classify, route, export (the outbox).
WAITING_STATES = (State.NEW, State.CLASSIFIED, State.ROUTED)


async def oldest_waiting(engine: AsyncEngine) -> dict[State, datetime]:
    """When the oldest complaint not held for an operator entered each waiting state."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(complaints.c.state, func.min(complaints.c.state_changed_at))
                .where(
                    complaints.c.state.in_([state.value for state in WAITING_STATES]),
                    # Held complaints wait for a person, not a stage: muara_complaints_held.
                    complaints.c.held_reason.is_(None),
                )
                .group_by(complaints.c.state)
            )
        ).all()
    return {State(state): oldest for state, oldest in rows if oldest is not None}


class BacklogCollector(Collector):
    """`muara_complaints_oldest_age_seconds{state}` from the last `refresh()`."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self.ages: dict[State, float] | None = None

    async def refresh(self) -> None:
        """Read the store now (no stale figures if it cannot be read)."""
        self.ages = None
        oldest = await oldest_waiting(self.engine)
        now = self.clock()
        self.ages = {
            state: max(0.0, (now - oldest[state]).total_seconds()) if state in oldest else 0.0
            for state in WAITING_STATES
        }

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "muara_complaints_oldest_age_seconds",
            "Seconds the oldest complaint has waited in a stage's input state (NEW: classify, "
            "CLASSIFIED: route, ROUTED: export to LAPOR!); 0 when none waits; held ones excluded",
            labels=["state"],
        )
        if self.ages is not None:
            for state, age in self.ages.items():
                family.add_metric([state.value], age)
        yield family
