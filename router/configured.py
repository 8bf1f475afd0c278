"""Rules declared in the config (`[[router.rules]]`): predicates that must all hold, one action.

Each predicate kind is its own small class (keyword.py, channel_rule.py, location_rule.py,
suggested_rule.py); an action is a target state. A decision's reason names the rule's purpose
and what matched (the pattern, the channel, the place), never the complaint's words.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from muara.classify.location import Gazetteer
from muara.domain import Decision, DecisionMode, State, Suggestion
from muara.router.channel_rule import ChannelMatch
from muara.router.emergency import EmergencyRule
from muara.router.keyword import KeywordMatch
from muara.router.location_rule import LocationMatch
from muara.router.ruleset import Rule, RuleSet
from muara.router.settings import RouterSettings, RuleSettings
from muara.router.suggested_rule import SuggestedAgencyMatch
from muara.store.records import ComplaintRecord


class Predicate(Protocol):
    """One condition of a configured rule."""

    def matches(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> str | None:
        """What matched, for the reason (never the complaint's words); None: no match."""
        ...


class Kind(enum.StrEnum):
    """What a configured rule does with a complaint it matches."""

    ROUTE = "route"
    REVIEW = "review"
    DISCARD = "discard"


@dataclass(frozen=True, slots=True)
class Action:
    """Where a matched complaint goes: an agency, a coordinator, or out with a reason."""

    kind: Kind
    agency: str | None = None
    discard_reason: str | None = None

    @classmethod
    def of(cls, rule: RuleSettings) -> Action:
        """The action a rule's config names (the config validated there is exactly one)."""
        if rule.route_to is not None:
            return cls(Kind.ROUTE, agency=rule.route_to)
        if rule.discard is not None:
            return cls(Kind.DISCARD, discard_reason=rule.discard)
        return cls(Kind.REVIEW)

    def describe(self) -> str:
        """The action in words, as a reason starts."""
        if self.kind is Kind.ROUTE:
            return f"route to {self.agency}"
        if self.kind is Kind.DISCARD:
            return f"discard: {self.discard_reason}"
        return "never auto-route: a coordinator decides"

    @property
    def target(self) -> State:
        """The state a matched complaint moves to."""
        return {Kind.ROUTE: State.ROUTED, Kind.REVIEW: State.REVIEW, Kind.DISCARD: State.DISCARDED}[
            self.kind
        ]


class ConfiguredRule:
    """A `[[router.rules]]` block: it fires when every one of its predicates holds."""

    def __init__(
        self,
        name: str,
        predicates: Sequence[Predicate],
        action: Action,
        description: str | None = None,
    ) -> None:
        if not predicates:
            raise ValueError(f"rule {name!r} has no predicate")
        self.name = name
        self.predicates = tuple(predicates)
        self.do = action
        self.description = description

    def matched(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> list[str]:
        """What each predicate matched; empty unless all of them hold."""
        found = []
        for predicate in self.predicates:
            what = predicate.matches(complaint, suggestion)
            if what is None:
                return []
            found.append(what)
        return found

    def predicate(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> bool:
        """Every predicate holds."""
        return bool(self.matched(complaint, suggestion))

    def action(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> Decision:
        """The configured action, its reason naming the rule's purpose and what matched."""
        why = self.do.describe()
        if self.description:
            why += f" ({self.description})"
        reason = f"{why}; matched {', '.join(self.matched(complaint, suggestion))}"
        return Decision(
            self.do.target, self.do.agency, DecisionMode.RULE, f"rule:{self.name}", reason
        )


def configured_rule(
    rule: RuleSettings, gazetteer: Callable[[], Gazetteer | None] = lambda: None
) -> ConfiguredRule:
    """The rule a `[[router.rules]]` block declares."""
    predicates: list[Predicate] = []
    if rule.pattern is not None:
        predicates.append(KeywordMatch(rule.pattern))
    if rule.channels:
        predicates.append(ChannelMatch(rule.channels))
    if rule.districts or rule.subdistricts:
        predicates.append(LocationMatch(rule.districts or (), rule.subdistricts or (), gazetteer))
    if rule.agency_suggested:
        predicates.append(SuggestedAgencyMatch(rule.agency_suggested))
    return ConfiguredRule(rule.name, predicates, Action.of(rule), rule.description)


def ruleset_from(
    settings: RouterSettings, gazetteer: Callable[[], Gazetteer | None] = lambda: None
) -> RuleSet:
    """The deployment's rules in order: the emergency rule first (unless disabled), then the
    configured ones as written."""
    rules: list[Rule] = [EmergencyRule()] if settings.emergency_rule else []
    rules.extend(configured_rule(rule, gazetteer) for rule in settings.rules)
    return RuleSet(rules)


def unknown_agencies(settings: RouterSettings, known: Iterable[str]) -> list[str]:
    """Problems with agency codes the rules name that are not among `known` (empty: none)."""
    labels = set(known)
    codes = {code for code in labels if not code.startswith("__")}
    problems = []
    for index, rule in enumerate(settings.rules):
        where = f"router.rules[{index}] ({rule.name})"
        if rule.route_to is not None and rule.route_to not in codes:
            problems.append(f"{where}: route_to {rule.route_to!r} is not a known agency code")
        for code in rule.agency_suggested or ():
            if code not in labels:
                problems.append(f"{where}: agency_suggested {code!r} is not a known agency code")
    return problems
