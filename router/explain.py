"""Why a complaint went where it went: `muara route --explain ID`.

The rules are re-evaluated now, against the current config, each on its own (not only the first
that fires), beside the decisions recorded in the store, the classifier's top 3 and the
thresholds that apply. Nothing here shows the complaint's words or its reporter: an operator
pastes this output into tickets and chats.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.classify.errors import ClassifyError
from muara.classify.registry import ModelRegistry
from muara.classify.text import mask_personal_data
from muara.config import Settings
from muara.domain import Decision, State, Suggestion
from muara.router.rules import decide
from muara.router.ruleset import RuleSet
from muara.router.stage import suggestion_of
from muara.store.records import ComplaintRecord
from muara.store.repository import Store
from muara.store.tables import complaints, decisions

_RECORD_COLUMNS = [complaints.c[f.name] for f in dataclasses.fields(ComplaintRecord)]


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One rule evaluated now: did it fire, on what, and what would it decide."""

    name: str
    fired: bool
    decides: bool = False
    reason: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """A decision the store holds: who decided, where to, and why."""

    at: datetime
    mode: str
    decided_by: str
    target: str
    agency: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The confidence bar the suggestion was held to."""

    agency: str
    global_threshold: float
    per_agency: float | None
    applied: float
    source: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """Everything `route --explain` prints."""

    id: int
    channel: str
    state: str
    received_at: datetime
    agency: str | None
    rules: list[RuleCheck]
    suggestion: Suggestion | None
    thresholds: Thresholds | None
    now: Decision
    recorded: list[Recorded]

    def as_json(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {
            "id": self.id,
            "channel": self.channel,
            "state": self.state,
            "received_at": self.received_at.isoformat(),
            "agency": self.agency,
            "rules": [dataclasses.asdict(check) for check in self.rules],
            "suggestion": None
            if self.suggestion is None
            else {
                "agency": self.suggestion.agency,
                "confidence": self.suggestion.confidence,
                "top": [
                    {"agency": agency, "confidence": p} for agency, p in self.suggestion.top[:3]
                ],
                "model_version": self.suggestion.model_version,
            },
            "thresholds": None if self.thresholds is None else dataclasses.asdict(self.thresholds),
            "decision_now": {
                "state": self.now.target.value,
                "agency": self.now.agency,
                "decided_by": self.now.decided_by,
                "reason": self.now.reason,
            },
            "recorded": [
                {**dataclasses.asdict(entry), "at": entry.at.isoformat()} for entry in self.recorded
            ],
        }


def check_rules(
    rules: RuleSet, complaint: ComplaintRecord, suggestion: Suggestion | None
) -> list[RuleCheck]:
    """Each rule on its own; the first that fires is the one that decides."""
    checks: list[RuleCheck] = []
    decided = False
    for rule in rules.rules:
        try:
            fired = rule.predicate(complaint, suggestion)
            reason = rule.action(complaint, suggestion).reason if fired else None
        except Exception as err:  # noqa: BLE001 - shown by class, as the router logs it
            checks.append(RuleCheck(rule.name, False, error=type(err).__name__))
            continue
        checks.append(RuleCheck(rule.name, fired, fired and not decided, reason))
        decided = decided or fired
    return checks


async def _thresholds(
    settings: Settings, engine: AsyncEngine, version: str
) -> tuple[Mapping[str, float] | None, str]:
    """The per-agency thresholds of the model version that made the suggestion, and whence."""
    target = settings.classifier.target_precision
    path = settings.classifier.model_path
    if path is not None:
        from muara.classify.model import load_model

        try:
            model = load_model(path)
        except ClassifyError:
            model = None
        if model is not None and model.version == version:
            return model.thresholds(target), f"model file {path.name}"
    if version.startswith("starter-"):
        return None, "starter model (no per-agency thresholds)"
    try:
        model = await ModelRegistry(engine).load(version)
    except (ClassifyError, SQLAlchemyError) as err:
        return None, f"model {version} not readable ({type(err).__name__})"
    return model.thresholds(target), f"registry model {version}"


async def explain(
    settings: Settings, engine: AsyncEngine, rules: RuleSet, complaint_id: int
) -> Explanation | None:
    """The explanation of one complaint, None when there is no such complaint."""
    async with engine.connect() as conn:
        row = (
            (await conn.execute(select(*_RECORD_COLUMNS).where(complaints.c.id == complaint_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        made = await conn.execute(
            select(
                decisions.c.created_at,
                decisions.c.mode,
                decisions.c.decided_by,
                decisions.c.target_state,
                decisions.c.agency,
                decisions.c.reason,
            )
            .where(decisions.c.complaint_id == complaint_id)
            .order_by(decisions.c.id)
        )
        # A coordinator's note is free text: masked like a log line.
        recorded = [
            Recorded(at, mode, by, target, agency, mask_personal_data(reason))
            for at, mode, by, target, agency, reason in made
        ]
    record = ComplaintRecord(**{**row, "state": State(row["state"]), "extra": row["extra"] or {}})
    latest = await Store(engine).latest_suggestions([complaint_id])
    suggestion = suggestion_of(latest.get(complaint_id))
    # Evaluated as the router sees it: a complaint waiting to be routed.
    as_routed = dataclasses.replace(record, state=State.CLASSIFIED)
    checks = check_rules(rules, as_routed, suggestion)
    table: Mapping[str, float] | None = None
    thresholds = None
    if suggestion is not None:
        table, source = await _thresholds(settings, engine, suggestion.model_version)
        global_threshold = settings.router.auto_route_threshold
        per_agency = None if table is None else table.get(suggestion.agency)
        thresholds = Thresholds(
            agency=suggestion.agency,
            global_threshold=global_threshold,
            per_agency=per_agency,
            applied=global_threshold if per_agency is None else per_agency,
            source=source,
        )
    now = rules.apply(as_routed, suggestion).decision or decide(suggestion, settings.router, table)
    return Explanation(
        id=record.id,
        channel=record.channel,
        state=record.state.value,
        received_at=record.received_at,
        agency=record.agency,
        rules=checks,
        suggestion=suggestion,
        thresholds=thresholds,
        now=now,
        recorded=recorded,
    )
