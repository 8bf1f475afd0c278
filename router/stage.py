"""The route stage: CLASSIFIED complaints become ROUTED or wait in REVIEW."""

from __future__ import annotations

from typing import Any

from muara.config import RouterSettings
from muara.domain import State, Suggestion
from muara.exporters.metrics import Metrics
from muara.router.rules import decide
from muara.store.records import Change, ComplaintRecord
from muara.store.repository import Store


def _suggestion(row: dict[str, Any] | None) -> Suggestion | None:
    if row is None:
        return None
    return Suggestion(
        agency=row["agency"],
        confidence=row["confidence"],
        top=tuple((str(agency), float(p)) for agency, p in row["top"]),
        model_version=row["model_version"],
    )


class RouteStage:
    """Applies the routing decision to each complaint of a batch in one transaction."""

    name = "route"
    source_state = State.CLASSIFIED

    def __init__(self, store: Store, settings: RouterSettings, metrics: Metrics) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics

    async def handle(self, batch: list[ComplaintRecord], owner: str) -> None:
        """Decide each complaint's route and commit it with the decision record."""
        found = await self.store.latest_suggestions([record.id for record in batch])
        changes = []
        for record in batch:
            decision = decide(_suggestion(found.get(record.id)), self.settings)
            changes.append(
                Change(
                    record.id,
                    State.CLASSIFIED,
                    decision.target,
                    actor=decision.decided_by,
                    values={"agency": decision.agency},
                    decision=decision,
                )
            )
        lost = set(await self.store.apply(owner, changes))
        for change in changes:
            if change.decision is not None and change.complaint_id not in lost:
                self.metrics.decisions.labels(change.decision.mode.value, change.to_state).inc()
