"""The route stage: CLASSIFIED complaints are routed, wait in REVIEW, are linked to an earlier
complaint as DUPLICATE, or a rule discards them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from muara.classify.location import Gazetteer
from muara.domain import Decision, DecisionMode, State, Suggestion
from muara.exporters.metrics import Metrics
from muara.router.duplicates import DuplicateMatch, DuplicateSettings
from muara.router.rules import decide
from muara.router.ruleset import RuleSet, default_ruleset
from muara.router.settings import DuplicateDetectionSettings, RouterSettings
from muara.store.duplicate_index import DuplicateCheck, DuplicateIndex, DuplicateRace
from muara.store.records import Change, ComplaintRecord
from muara.store.repository import Store

log = logging.getLogger(__name__)

# Checks of one batch at most, when other replicas keep indexing its repeats meanwhile.
RACE_ATTEMPTS = 5
# Who a duplicate decision names in the decision record and the metrics.
DUPLICATE_RULE = "rule:duplicate"


def suggestion_of(row: Mapping[str, Any] | None) -> Suggestion | None:
    """A stored suggestion row (`Store.latest_suggestions`) as the router reads it."""
    if row is None:
        return None
    return Suggestion(
        agency=row["agency"],
        confidence=float(row["confidence"]),
        top=tuple((str(agency), float(p)) for agency, p in row["top"] or []),
        model_version=row["model_version"],
    )


def duplicate_settings(config: DuplicateDetectionSettings) -> DuplicateSettings:
    """The matcher's settings from `[router.duplicates]`; the rest keep their tuned defaults."""
    return DuplicateSettings(
        reporter_window=timedelta(days=config.reporter_days),
        text_window=timedelta(days=config.text_days),
        event_window=timedelta(days=config.event_days),
        text_threshold=config.text_threshold,
        related_threshold=config.related_threshold,
    )


def duplicate_decision(match: DuplicateMatch) -> Decision:
    """DUPLICATE of the match's root; the reason names ids and the kind, never a word of text."""
    return Decision(State.DUPLICATE, None, DecisionMode.RULE, DUPLICATE_RULE, match.reason)


class RouteStage:
    """Applies the rules, duplicate detection, then the routing threshold, to a batch at once.

    Order: a rule that discards wins (spam or a dispatched emergency is no one's duplicate);
    then a complaint repeating one already routed or in review becomes its DUPLICATE, so the
    first is the only one filed to LAPOR! (the exporter files ROUTED complaints only); then the
    rules' or the classifier's route.
    """

    name = "route"
    source_state = State.CLASSIFIED

    def __init__(
        self,
        store: Store,
        settings: RouterSettings,
        metrics: Metrics,
        rules: RuleSet | None = None,
        thresholds: Callable[[str], Mapping[str, float] | None] | None = None,
        gazetteer: Gazetteer | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.rules = rules if rules is not None else default_ruleset()
        # Per-agency thresholds of the model version that made a suggestion (None: global).
        self.thresholds = thresholds or (lambda _version: None)
        config = settings.duplicates
        self.duplicates: DuplicateIndex | None = None
        if config.enabled:
            self.duplicates = DuplicateIndex(
                store.engine, settings=duplicate_settings(config), gazetteer=gazetteer
            )
        self._prune_every = timedelta(minutes=config.prune_minutes)
        self._pruned_at: datetime | None = None

    async def handle(self, batch: list[ComplaintRecord], owner: str) -> None:
        """Decide each complaint's route and commit it with the decision record.

        A batch whose duplicate check another replica's commit made stale is rolled back and
        decided again (see `DuplicateCheck.record`); the leases stay ours meanwhile."""
        await self._prune()
        for attempt in range(1, RACE_ATTEMPTS + 1):
            try:
                await self._route(batch, owner)
            except DuplicateRace:
                if attempt == RACE_ATTEMPTS:
                    raise
                self.metrics.duplicate_races.inc()
                log.info("duplicate check raced another replica's batch, checking again")
            else:
                return

    async def _route(self, batch: list[ComplaintRecord], owner: str) -> None:
        found = await self.store.latest_suggestions([record.id for record in batch])
        changes = []
        matched: dict[int, str] = {}
        decisions: dict[int, Decision] = {}
        for record in batch:
            suggestion = suggestion_of(found.get(record.id))
            outcome = self.rules.apply(record, suggestion)
            for failure in outcome.failures:
                self.metrics.rule_errors.labels(failure.rule, failure.error_class).inc()
            decisions[record.id] = outcome.decision or decide(
                suggestion,
                self.settings,
                None if suggestion is None else self.thresholds(suggestion.model_version),
            )
            if outcome.rule is not None:
                matched[record.id] = outcome.rule
        discarded = {cid for cid, d in decisions.items() if d.target is State.DISCARDED}
        check = await self._check([r for r in batch if r.id not in discarded], decisions, found)
        for record in batch:
            decision = decisions[record.id]
            values: dict[str, Any] = {"agency": decision.agency}
            if check is not None and (match := check.matches.get(record.id)) is not None:
                decision = duplicate_decision(match)
                values = {"agency": None, "duplicate_of_id": match.of_id}
                matched.pop(record.id, None)
            elif decision.target is State.DISCARDED:
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

        async def remember(conn: AsyncConnection, committed: set[int]) -> None:
            # Discarded complaints are never a root: the index need not hold them.
            if check is not None:
                await check.record(conn, committed - discarded)

        lost = set(await self.store.apply(owner, changes, also=remember))
        for change in changes:
            if change.decision is not None and change.complaint_id not in lost:
                self.metrics.decisions.labels(change.decision.mode.value, change.to_state).inc()
                if rule := matched.get(change.complaint_id):
                    self.metrics.rule_matches.labels(rule).inc()
                if check is not None and (match := check.matches.get(change.complaint_id)):
                    self.metrics.duplicates.labels(match.kind.name.lower()).inc()

    async def _check(
        self,
        records: list[ComplaintRecord],
        decisions: Mapping[int, Decision],
        found: Mapping[int, dict[str, Any]],
    ) -> DuplicateCheck | None:
        """The batch's duplicates (None: detection is off). The agency each complaint would go
        to tells apart two problems worded alike (see router/duplicates.py)."""
        if self.duplicates is None:
            return None
        agencies: dict[int, str | None] = {}
        for record in records:
            agency = decisions[record.id].agency
            if agency is None and (row := found.get(record.id)) is not None:
                agency = row["agency"]
            agencies[record.id] = agency
        began = time.perf_counter()
        check = await self.duplicates.check(records, agencies)
        self.metrics.duplicate_check_seconds.observe(time.perf_counter() - began)
        return check

    async def _prune(self) -> None:
        """Every `prune_minutes`, drop index entries no window can match any more: the index
        holds the last days' complaints only, however large the store grows."""
        if self.duplicates is None:
            return
        now = self.store.clock()
        if self._pruned_at is not None and now - self._pruned_at < self._prune_every:
            return
        self._pruned_at = now
        removed = await self.duplicates.prune(now)
        if removed:
            log.info("duplicate index: forgot %d key(s) older than every window", removed)
