"""Routing rules: the ordered ruleset, the emergency rule, and the route stage on the real store."""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from muara.classify.location import Gazetteer
from muara.classify.starter import STARTER_AGENCIES
from muara.cli import main
from muara.config import ConfigError, load_settings
from muara.domain import Decision, DecisionMode, NewComplaint, State, Suggestion
from muara.exporters.metrics import Metrics
from muara.router.configured import ruleset_from, unknown_agencies
from muara.router.emergency import EmergencyRule
from muara.router.rules import decide
from muara.router.ruleset import RuleFailure, RuleSet, default_ruleset
from muara.router.settings import RouterSettings
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


# -- rules declared in the config ----------------------------------------------------------------


def configured(
    *rules: dict[str, Any], emergency_rule: bool = True, gazetteer: Gazetteer | None = None
) -> RuleSet:
    """The ruleset a `[router]` section with these `[[router.rules]]` builds."""
    settings = load_settings(router={"rules": list(rules), "emergency_rule": emergency_rule})
    return ruleset_from(settings.router, gazetteer=lambda: gazetteer)


def complaint(
    text: str,
    *,
    subject: str | None = None,
    channel: str = "callcenter",
    district: str | None = None,
    subdistrict: str | None = None,
    **extra: Any,
) -> ComplaintRecord:
    return dataclasses.replace(
        record(channel=channel, **extra),
        text=text,
        subject=subject,
        district=district,
        subdistrict=subdistrict,
    )


WATER = {"name": "water", "pattern": "PDAM|air mati", "route_to": "PDAM"}
CORRUPTION = {
    "name": "corruption",
    "description": "mentions corruption",
    "pattern": r"korupsi|pungli|suap",
    "review": True,
}
OFFICIAL = {"name": "official", "pattern": r"\b(bupati|wali ?kota|camat)\b", "review": True}
X_ONLY = {"name": "x-review", "channels": ["x"], "review": True}
RUNGKUT = {"name": "rungkut", "districts": ["rungkut"], "route_to": "Kecamatan Rungkut"}
WONOREJO = {"name": "wonorejo", "subdistricts": ["Wonorejo"], "route_to": "Kelurahan Wonorejo"}
RIVER = {
    "name": "river",
    "agency_suggested": ["DLH"],
    "pattern": "sungai|kali",
    "review": True,
}
SPAM = {"name": "promo", "channels": ["x"], "pattern": "promo|diskon", "discard": "advertising"}
GAZETTEER = Gazetteer(
    [("Rungkut", "Wonorejo"), ("Rungkut", "Kali Rungkut"), ("Gubeng", "Airlangga")]
)
PHONE = "0812-0000-1234"
LONG = "|".join(f"kata{i}" for i in range(20))


@pytest.mark.parametrize(
    ("rules", "item", "suggestion", "expected"),
    [
        # Keywords: case, spacing, repeated letters and the subject are all seen alike.
        ([WATER], complaint("AIRRR   Mati sejak pagi"), SUGGESTION, ("water", "ROUTED", "PDAM")),
        ([WATER], complaint("sejak pagi", subject="Pdam lagi"), None, ("water", "ROUTED", "PDAM")),
        ([WATER], complaint("airnya keruh"), SUGGESTION, None),
        # A pattern never sees personal data: phone numbers are masked before matching.
        ([{**WATER, "pattern": "0812"}], complaint(f"hubungi {PHONE}"), SUGGESTION, None),
        # Never auto-route: a confident suggestion does not matter.
        (
            [CORRUPTION],
            complaint("ada PUNGLI di kelurahan"),
            SUGGESTION,
            ("corruption", "REVIEW", None),
        ),
        ([OFFICIAL], complaint("Pak Camat tidak datang"), SUGGESTION, ("official", "REVIEW", None)),
        ([OFFICIAL], complaint("kecamatan tutup"), SUGGESTION, None),
        # Order decides: the first rule that fires wins.
        (
            [CORRUPTION, WATER],
            complaint("pungli petugas PDAM"),
            SUGGESTION,
            ("corruption", "REVIEW", None),
        ),
        (
            [WATER, CORRUPTION],
            complaint("pungli petugas PDAM"),
            SUGGESTION,
            ("water", "ROUTED", "PDAM"),
        ),
        # Channels.
        ([X_ONLY], complaint("jalan rusak", channel="x"), SUGGESTION, ("x-review", "REVIEW", None)),
        ([X_ONLY], complaint("jalan rusak", channel="email"), SUGGESTION, None),
        # Locations: the channel's metadata, else the gazetteer in the text.
        (
            [RUNGKUT],
            complaint("lampu mati", district="RUNGKUT"),
            None,
            ("rungkut", "ROUTED", "Kecamatan Rungkut"),
        ),
        (
            [RUNGKUT],
            complaint("lampu mati di wonorejo"),
            None,
            ("rungkut", "ROUTED", "Kecamatan Rungkut"),
        ),
        ([RUNGKUT], complaint("lampu mati", district="Gubeng"), None, None),
        (
            [WONOREJO],
            complaint("x", subdistrict="wonorejo"),
            None,
            ("wonorejo", "ROUTED", "Kelurahan Wonorejo"),
        ),
        ([WONOREJO], complaint("lampu mati di airlangga"), None, None),
        # Every predicate must hold: the suggestion and the pattern.
        ([RIVER], complaint("sampah di kali"), SUGGESTION, ("river", "REVIEW", None)),
        ([RIVER], complaint("sampah di jalan"), SUGGESTION, None),
        ([RIVER], complaint("sampah di kali"), Suggestion("PU", 0.9, (), "m1"), None),
        ([RIVER], complaint("sampah di kali"), None, None),
        # Discard.
        ([SPAM], complaint("PROMO diskon 50%", channel="x"), None, ("promo", "DISCARDED", None)),
        ([SPAM], complaint("PROMO diskon 50%", channel="email"), None, None),
    ],
)
def test_configured_rules(
    rules: list[dict[str, Any]],
    item: ComplaintRecord,
    suggestion: Suggestion | None,
    expected: tuple[str, str, str | None] | None,
) -> None:
    outcome = configured(*rules, gazetteer=GAZETTEER).apply(item, suggestion)
    assert outcome.failures == ()
    if expected is None:
        assert outcome.decision is None
        return
    name, state, agency = expected
    decision = outcome.decision
    assert decision is not None
    assert (outcome.rule, decision.target.value, decision.agency) == (name, state, agency)
    assert (decision.mode, decision.decided_by) == (DecisionMode.RULE, f"rule:{name}")
    # The reason says what matched, never what the complaint said.
    assert "matched " in decision.reason
    assert item.text not in decision.reason


@pytest.mark.parametrize(
    ("rule", "item", "reason"),
    [
        (WATER, complaint("air mati"), "route to PDAM; matched pattern /PDAM|air mati/"),
        (
            CORRUPTION,
            complaint("ada suap"),
            "never auto-route: a coordinator decides (mentions corruption); "
            "matched pattern /korupsi|pungli|suap/",
        ),
        (
            SPAM,
            complaint("promo", channel="x"),
            "discard: advertising; matched pattern /promo|diskon/, channel x",
        ),
        (RUNGKUT, complaint("di wonorejo"), "route to Kecamatan Rungkut; matched district Rungkut"),
        (
            {**WATER, "pattern": "air (mati|keruh|kecil)|" + LONG},
            complaint("air mati"),
            "route to PDAM; matched pattern /air (mati|keruh|kecil)|" + LONG[:36] + "…/",
        ),
    ],
)
def test_a_configured_rules_reason(
    rule: dict[str, Any], item: ComplaintRecord, reason: str
) -> None:
    decision = configured(rule, gazetteer=GAZETTEER).apply(item, None).decision
    assert decision is not None
    assert decision.reason == reason


def test_a_never_auto_route_rule_stops_the_classifier_and_the_emergency_rule_comes_first() -> None:
    rules = configured(CORRUPTION)
    assert [rule.name for rule in rules.rules] == ["emergency-112", "corruption"]
    confident = Suggestion("DLH", 0.99, (("DLH", 0.99),), "m1")
    outcome = rules.apply(complaint("ada pungli"), confident)
    assert outcome.decision is not None and outcome.decision.target is State.REVIEW
    # Without the rule, the same suggestion is auto-routed.
    assert decide(confident, RouterSettings()).target is State.ROUTED
    fire = complaint("ada pungli, rumah kebakaran", channel="112", emergency="fire")
    assert rules.apply(fire, confident).rule == "emergency-112"
    without = configured(CORRUPTION, emergency_rule=False)
    assert [rule.name for rule in without.rules] == ["corruption"]
    assert without.apply(fire, confident).rule == "corruption"


def test_rules_keep_the_order_of_the_toml(tmp_path: Path) -> None:
    config = tmp_path / "muara.toml"
    config.write_text(
        """
[router]
auto_route_threshold = 0.9

[[router.rules]]
name = "corruption"
pattern = "korupsi|pungli"
review = true

[[router.rules]]
name = "water"
pattern = "PDAM|air mati"
route_to = "PDAM"

[[router.rules]]
name = "x-promo"
channels = ["x"]
pattern = "promo"
discard = "advertising"
""",
        encoding="utf-8",
    )
    settings = load_settings(config)
    names = [rule.name for rule in ruleset_from(settings.router).rules]
    assert names == ["emergency-112", "corruption", "water", "x-promo"]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            [{"name": "a", "pattern": "(unclosed", "review": True}],
            "rule 'a': pattern is not a valid regex",
        ),
        (
            [{"name": "a", "pattern": r"(air)\s+\1", "review": True}],
            "rule 'a': pattern is not a valid regex: invalid escape sequence: \\1 (RE2 syntax: "
            "no backreferences or lookaround",
        ),
        (
            [{"name": "a", "pattern": "air(?!mati)", "review": True}],
            "rule 'a': pattern is not a valid regex: invalid perl operator: (?!",
        ),
        (
            [{"name": "a", "pattern": "x"}],
            "rule 'a': give exactly one of route_to, review = true, discard",
        ),
        (
            [{"name": "a", "pattern": "x", "review": True, "route_to": "PDAM"}],
            "rule 'a': give exactly one of",
        ),
        ([{"name": "a", "review": True}], "rule 'a': needs a predicate"),
        ([{"name": "a", "channels": [], "review": True}], "rule 'a': needs a predicate"),
        ([{"name": "a", "channels": ["x"], "districts": [], "review": True}], "an empty list"),
        ([{"name": "a", "pattern": "x", "review": True, "colour": "red"}], "router.rules.0.colour"),
        ([{"name": "Bad Name", "pattern": "x", "review": True}], "router.rules.0.name"),
        ([{"name": "a", "pattern": "x", "review": True}] * 2, "repeated: ['a']"),
        (
            [{"name": "emergency-112", "pattern": "x", "review": True}],
            "repeated: ['emergency-112']",
        ),
    ],
)
def test_bad_rules_are_refused_at_load_naming_the_rule(
    rules: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(router={"rules": rules})


def test_a_pattern_that_would_backtrack_for_ever_in_re_answers_at_once() -> None:
    """`(\\w+\\s?)+$` against words that end in "!": Python's `re` tries every way of splitting
    the words (6 s for three "jalan rusak", doubling with each word); RE2 answers in one pass.
    Under `re` this test would hang until the suite's timeout, not pass."""
    rules = configured(
        {"name": "nested", "pattern": r"(\w+\s?)+$", "review": True},
        {"name": "water", "pattern": r"\bPDAM\b|air mati", "route_to": "PDAM"},
        emergency_rule=False,
    )
    stalled = complaint("jalan rusak " * 40 + "! air mati sejak pagi !")
    outcome = rules.apply(stalled, None)
    assert outcome.rule == "water"
    assert not outcome.failures
    assert rules.apply(complaint("jalan rusak"), None).rule == "nested"
    assert rules.apply(complaint("Air MATI di Gubeng !"), None).rule == "water"


def test_unknown_agency_codes_are_named_by_rule() -> None:
    settings = load_settings(
        router={
            "rules": [
                WATER,
                {**WATER, "name": "typo", "route_to": "PDMA"},
                {**RIVER, "agency_suggested": ["DLH", "DHL"]},
            ]
        }
    )
    assert unknown_agencies(settings.router, {"PDAM", "DLH", "__REVIEW__"}) == [
        "router.rules[1] (typo): route_to 'PDMA' is not a known agency code",
        "router.rules[2] (river): agency_suggested 'DHL' is not a known agency code",
    ]
    # A model's "send to review" label is no agency to route to.
    review_label = load_settings(router={"rules": [{**WATER, "route_to": "__REVIEW__"}]})
    assert unknown_agencies(review_label.router, {"__REVIEW__"}) != []


# -- the threshold, after the rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("suggestion", "per_agency", "target", "agency", "reason"),
    [
        (None, None, State.REVIEW, None, "no suggestion"),
        (
            Suggestion("__REVIEW__", 0.99, (), "m"),
            None,
            State.REVIEW,
            None,
            "model routes this kind to review",
        ),
        (
            Suggestion("__LOCAL_OFFICE__", 0.99, (), "m"),
            None,
            State.REVIEW,
            None,
            "model routes this kind to review",
        ),
        (
            Suggestion("DLH", 0.8, (), "m"),
            None,
            State.ROUTED,
            "DLH",
            "confidence 0.80 >= threshold 0.80",
        ),
        (
            Suggestion("DLH", 0.79, (), "m"),
            None,
            State.REVIEW,
            None,
            "confidence 0.79 < threshold 0.80",
        ),
        # A per-agency threshold wins over the global one, either way.
        (
            Suggestion("DLH", 0.7, (), "m"),
            {"DLH": 0.6},
            State.ROUTED,
            "DLH",
            "confidence 0.70 >= threshold 0.60",
        ),
        (
            Suggestion("DLH", 0.9, (), "m"),
            {"DLH": 0.95},
            State.REVIEW,
            None,
            "confidence 0.90 < threshold 0.95",
        ),
        # An agency the model has no threshold for falls back to the global one.
        (
            Suggestion("PU", 0.85, (), "m"),
            {"DLH": 0.95},
            State.ROUTED,
            "PU",
            "confidence 0.85 >= threshold 0.80",
        ),
        # An agency that never reached the target precision has a threshold above 1: never auto.
        (
            Suggestion("PU", 1.0, (), "m"),
            {"PU": 1.01},
            State.REVIEW,
            None,
            "confidence 1.00 < threshold 1.01",
        ),
    ],
)
def test_the_threshold_decides_what_the_rules_left(
    suggestion: Suggestion | None,
    per_agency: dict[str, float] | None,
    target: State,
    agency: str | None,
    reason: str,
) -> None:
    decision = decide(suggestion, RouterSettings(auto_route_threshold=0.8), per_agency)
    assert decision == Decision(target, agency, DecisionMode.AUTO, "auto", reason)


def test_the_readme_example_loads_and_names_only_starter_agencies(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Routing rules", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    config = tmp_path / "muara.toml"
    config.write_text(example, encoding="utf-8")
    settings = load_settings(config)
    rules = ruleset_from(settings.router)
    assert [rule.name for rule in rules.rules][:3] == ["emergency-112", "corruption", "official"]
    assert unknown_agencies(settings.router, STARTER_AGENCIES) == []
    official = rules.apply(complaint("Pak Lurah tidak pernah ada di kantor"), SUGGESTION)
    assert official.rule == "official"


@pytest.mark.parametrize(
    ("route_to", "code", "line"),
    [
        ("PDMA", 1, r"FAIL router\.rules +router\.rules\[0\] \(water\): route_to 'PDMA' is not a"),
        ("PDAM", 0, r"ok   router\.rules +2 rule\(s\); agencies checked against the starter model"),
    ],
)
def test_check_config_checks_rule_agencies_against_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], route_to: str, code: int, line: str
) -> None:
    config = tmp_path / "muara.toml"
    config.write_text(
        f'data_dir = "{tmp_path.as_posix()}/data"\n'
        "[[router.rules]]\n"
        f'name = "water"\npattern = "air mati"\nroute_to = "{route_to}"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "check-config"]) == code
    assert re.search(line, capsys.readouterr().out)


def test_a_bad_rule_stops_the_command_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "muara.toml"
    config.write_text(
        '[[router.rules]]\nname = "water"\npattern = "air (mati"\nroute_to = "PDAM"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "check-config"]) == 2
    assert "rule 'water': pattern is not a valid regex" in capsys.readouterr().err


def test_check_config_notes_a_review_rule_behind_a_routing_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "muara.toml"
    config.write_text(
        f'data_dir = "{tmp_path.as_posix()}/data"\n'
        '[[router.rules]]\nname = "water"\npattern = "air mati"\nroute_to = "PDAM"\n'
        '[[router.rules]]\nname = "corruption"\npattern = "pungli"\nreview = true\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "check-config"]) == 0
    assert (
        "note: review rule 'corruption' comes after route_to rule 'water': "
        "a complaint both match is routed"
    ) in capsys.readouterr().out
