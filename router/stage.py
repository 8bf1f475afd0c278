"""The route stage: CLASSIFIED complaints are routed, wait in REVIEW, or a rule discards them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from muara.config import RouterSettings
from muara.domain import State, Suggestion
from muara.exporters.metrics import Metrics
from muara.router.rules import decide
from muara.router.ruleset import RuleSet, default_ruleset
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
    """Applies the rules, then the routing threshold, to each complaint of a batch at once."""

    name = "route"
    source_state = State.CLASSIFIED

    def __init__(
        self,
        store: Store,
        settings: RouterSettings,
        metrics: Metrics,
        rules: RuleSet | None = None,
        thresholds: Callable[[str], Mapping[str, float] | None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.rules = rules if rules is not None else default_ruleset()
        # Per-agency thresholds of the model version that made a suggestion (None: global).
        self.thresholds = thresholds or (lambda _version: None)

    async def handle(self, batch: list[ComplaintRecord], owner: str) -> None:
        """Decide each complaint's route and commit it with the decision record."""
        found = await self.store.latest_suggestions([record.id for record in batch])
        changes = []
        matched: dict[int, str] = {}
        for record in batch:
            suggestion = _suggestion(found.get(record.id))
            outcome = self.rules.apply(record, suggestion)
            for failure in outcome.failures:
                self.metrics.rule_errors.labels(failure.rule, failure.error_class).inc()
            decision = outcome.decision or decide(
                suggestion,
                self.settings,
                None if suggestion is None else self.thresholds(suggestion.model_version),
            )
            if outcome.rule is not None:
                matched[record.id] = outcome.rule
            values: dict[str, Any] = {"agency": decision.agency}
            if decision.target is State.DISCARDED:
                values["discard_reason"] = decision.reason
            changes.append(
                Change(
                    record.id,
                    State.CLASSIFIED,
                    decision.target,
                    actor=decision.decided_by,
                    values=values,
                    decision=decision,
                )
            )
        lost = set(await self.store.apply(owner, changes))
        for change in changes:
            if change.decision is not None and change.complaint_id not in lost:
                self.metrics.decisions.labels(change.decision.mode.value, change.to_state).inc()
                if rule := matched.get(change.complaint_id):
                    self.metrics.rule_matches.labels(rule).inc()
