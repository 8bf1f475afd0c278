"""Routing rules: the ordered ruleset, the emergency rule, and the route stage on the real store."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from muara.config import RouterSettings
from muara.domain import Decision, DecisionMode, NewComplaint, State, Suggestion
from muara.exporters.metrics import Metrics
from muara.router.emergency import EmergencyRule
from muara.router.ruleset import RuleFailure, RuleSet, default_ruleset
from muara.router.stage import RouteStage
from muara.store.records import Change, ComplaintRecord
from muara.store.repository import Store
from muara.store.tables import complaints, decisions

SECRET_TEXT = "Siti Rahayu 0812-0000-1234 rumahnya kebakaran"


def record(n: int = 1, *, channel: str = "112", **extra: Any) -> ComplaintRecord:
    return ComplaintRecord(
        id=n,
        channel=channel,
        source_id=f"c-{n}",
        state=State.CLASSIFIED,
        received_at=datetime(2026, 11, 23, tzinfo=UTC),
        text=SECRET_TEXT,
        subject=None,
        district=None,
        subdistrict=None,
        is_anonymous=False,
        is_secret=False,
        agency=None,
        extra=extra,
    )


SUGGESTION = Suggestion("DLH", 0.95, (("DLH", 0.95),), "m1")


class Fixed:
    """A rule that matches when `extra["match"]` names it, deciding `target`."""

    def __init__(self, name: str, target: State = State.REVIEW) -> None:
        self.name = name
        self.target = target

    def predicate(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> bool:
        return complaint.extra.get("match") == self.name

    def action(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> Decision:
        # Claims to be someone else: the ruleset records the truth.
        return Decision(self.target, "PU", DecisionMode.AUTO, "auto", f"{self.name} matched")


class Broken:
    """A rule with a bug whose exception message quotes the complaint."""

    def __init__(self, name: str, *, in_action: bool = False) -> None:
        self.name = name
        self.in_action = in_action

    def predicate(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> bool:
        if not self.in_action:
            raise KeyError(complaint.text)
        return True

    def action(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> Decision:
        raise ValueError(complaint.text)


@pytest.mark.parametrize(
    ("rules", "match", "decided_by", "failures"),
    [
        ([Fixed("a"), Fixed("b")], "b", "rule:b", ()),
        ([Fixed("a"), Fixed("a2")], "none", None, ()),
        ([Broken("x"), Fixed("b")], "b", "rule:b", (RuleFailure("x", "KeyError"),)),
        (
            [Broken("x", in_action=True), Fixed("b")],
            "b",
            "rule:b",
            (RuleFailure("x", "ValueError"),),
        ),
        (
            [Fixed("b", target=State.EXPORTED), Fixed("b2")],
            "b",
            None,
            (RuleFailure("b", "IllegalTransitionError"),),
        ),
    ],
)
def test_the_first_matching_rule_decides_and_a_failing_one_is_skipped(
    rules: list[Any], match: str, decided_by: str | None, failures: tuple[RuleFailure, ...]
) -> None:
    outcome = RuleSet(rules).apply(record(match=match), SUGGESTION)
    assert outcome.failures == failures
    if decided_by is None:
        assert outcome.decision is None and outcome.rule is None
    else:
        assert outcome.decision is not None
        assert (outcome.decision.decided_by, outcome.decision.mode) == (
            decided_by,
            DecisionMode.RULE,
        )
        assert outcome.rule == decided_by.removeprefix("rule:")


def test_a_failing_rule_is_logged_once_by_name_and_class_then_once_on_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    class Flaky(Broken):
        broken = True

        def predicate(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> bool:
            if self.broken:
                raise KeyError(complaint.text)
            return False

    flaky = Flaky("flaky")
    rules = RuleSet([flaky])
    for _ in range(3):
        rules.apply(record(), None)
    flaky.broken = False
    rules.apply(record(), None)
    rules.apply(record(), None)
    assert [r.getMessage() for r in caplog.records] == [
        "routing rule flaky failed (KeyError); it is skipped until it works again",
        "routing rule flaky works again",
    ]
    assert "Siti" not in caplog.text and "0812" not in caplog.text


def test_rule_names_are_unique() -> None:
    with pytest.raises(ValueError, match="repeated: a"):
        RuleSet([Fixed("a"), Fixed("a")])


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"emergency": "fire"}, "emergency: dispatched by 112 (fire)"),
        ({"emergency": "accident"}, "emergency: dispatched by 112 (accident)"),
        ({"emergency": "crime"}, "emergency: dispatched by 112 (crime)"),
        ({"emergency": "medical"}, "emergency: dispatched by 112 (medical)"),
        ({"emergency": "flood"}, None),
        ({"call_category": "Kebakaran"}, None),
        ({}, None),
    ],
)
def test_the_emergency_rule(extra: dict[str, Any], reason: str | None) -> None:
    outcome = default_ruleset().apply(record(**extra), SUGGESTION)
    if reason is None:
        assert outcome.decision is None
        return
    assert outcome.decision == Decision(
        State.DISCARDED, None, DecisionMode.RULE, "rule:emergency-112", reason
    )
    assert EmergencyRule().name == outcome.rule


# -- the route stage on the real store ------------------------------------------------------------


async def classified(store: Store, items: list[tuple[str, dict[str, Any]]]) -> list[int]:
    """Store complaints and move them to CLASSIFIED with a confident suggestion."""
    stored = await store.store_many(
        [
            (
                NewComplaint(
                    channel="112",
                    source_id=source_id,
                    received_at=datetime(2026, 11, 23, tzinfo=UTC),
                    text="lampu jalan mati",
                    extra=extra,
                ),
                None,
            )
            for source_id, extra in items
        ]
    )
    batch = await store.claim(State.NEW, owner="t", limit=100, lease_seconds=60)
    await store.apply(
        "t",
        [
            Change(r.id, State.NEW, State.CLASSIFIED, "model:m1", suggestion=SUGGESTION)
            for r in batch
        ],
    )
    return [s.id for s in stored]


async def test_the_route_stage_applies_rules_before_the_threshold(store: Store) -> None:
    ids = await classified(store, [("call-1", {"emergency": "fire"}), ("call-2", {})])
    metrics = Metrics(CollectorRegistry())

    class Boom(Broken):
        pass

    rules = RuleSet([Boom("boom"), *default_ruleset().rules])
    stage = RouteStage(store, RouterSettings(auto_route_threshold=0.5), metrics, rules)
    batch = await store.claim(State.CLASSIFIED, owner="r", limit=100, lease_seconds=60)
    await stage.handle(batch, "r")
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(complaints.c.id, complaints.c.state, complaints.c.discard_reason)
                .where(complaints.c.id.in_(ids))
                .order_by(complaints.c.id)
            )
        ).all()
        made = (
            await conn.execute(
                select(decisions.c.mode, decisions.c.decided_by, decisions.c.agency).order_by(
                    decisions.c.complaint_id
                )
            )
        ).all()
    assert [(state, reason) for _, state, reason in rows] == [
        ("DISCARDED", "emergency: dispatched by 112 (fire)"),
        ("ROUTED", None),
    ]
    assert made == [("rule", "rule:emergency-112", None), ("auto", "auto", "DLH")]
    registry = metrics.registry
    assert (
        registry.get_sample_value("muara_router_rule_matches_total", {"rule": "emergency-112"}) == 1
    )
    assert (
        registry.get_sample_value(
            "muara_router_decisions_total", {"mode": "rule", "state": "DISCARDED"}
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "muara_router_rule_errors_total", {"rule": "boom", "error": "KeyError"}
        )
        == 2
    )


async def test_the_route_stage_uses_the_thresholds_of_the_suggestions_model(store: Store) -> None:
    ids = await classified(store, [("call-1", {}), ("call-2", {})])
    asked: list[str] = []

    def thresholds(version: str) -> dict[str, float] | None:
        asked.append(version)
        # This model version is only trusted for DLH from 0.99 up: the suggestion stays below.
        return {"DLH": 0.99} if version == SUGGESTION.model_version else None

    stage = RouteStage(
        store,
        RouterSettings(auto_route_threshold=0.1),
        Metrics(CollectorRegistry()),
        thresholds=thresholds,
    )
    batch = await store.claim(State.CLASSIFIED, owner="r", limit=100, lease_seconds=60)
    await stage.handle(batch, "r")
    async with store.engine.connect() as conn:
        states = (
            await conn.execute(select(complaints.c.state).where(complaints.c.id.in_(ids)))
        ).scalars()
        assert set(states) == {"REVIEW"}
    assert asked == [SUGGESTION.model_version] * 2
