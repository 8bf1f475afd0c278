"""Routing rules: an ordered list of predicate + action, tried before the classifier's threshold.

The first rule whose predicate holds decides. A rule that raises is skipped and reported by its
name and the exception's class only: exception messages may quote the complaint (personal data).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from muara.domain import (
    Decision,
    DecisionMode,
    IllegalTransitionError,
    Suggestion,
    check_transition,
)
from muara.router.emergency import EmergencyRule
from muara.store.records import ComplaintRecord

log = logging.getLogger(__name__)


class Rule(Protocol):
    """One routing rule; a new kind of rule (keyword, channel, location) is one small class."""

    @property
    def name(self) -> str:
        """Unique name; decisions are recorded as made by `rule:<name>`."""
        ...

    def predicate(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> bool:
        """True when this rule decides the complaint."""
        ...

    def action(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> Decision:
        """The decision for a complaint the predicate accepted."""
        ...


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """A rule that raised: its name and the exception's class, nothing the complaint said."""

    rule: str
    error_class: str


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What the rules made of one complaint: a decision (or None: the classifier decides)."""

    decision: Decision | None
    rule: str | None = None
    failures: tuple[RuleFailure, ...] = ()


class RuleSet:
    """Rules in the order they are tried."""

    def __init__(self, rules: Sequence[Rule] = ()) -> None:
        names = [rule.name for rule in rules]
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"rule names must be unique; repeated: {', '.join(repeated)}")
        self.rules = tuple(rules)
        self._failing: set[str] = set()

    def apply(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> RuleOutcome:
        """Try each rule in turn; the first that matches decides, a failing one is skipped."""
        failures: list[RuleFailure] = []
        for rule in self.rules:
            try:
                if not rule.predicate(complaint, suggestion):
                    self._recovered(rule.name)
                    continue
                decision = rule.action(complaint, suggestion)
                check_transition(complaint.state, decision.target)
            except IllegalTransitionError as err:
                failures.append(self._failed(rule.name, err))
                continue
            except Exception as err:  # noqa: BLE001 - one rule's bug must not stop routing
                failures.append(self._failed(rule.name, err))
                continue
            self._recovered(rule.name)
            # Whatever the rule wrote, the record says a rule decided, and which one.
            decision = dataclasses.replace(
                decision, mode=DecisionMode.RULE, decided_by=f"rule:{rule.name}"
            )
            return RuleOutcome(decision, rule.name, tuple(failures))
        return RuleOutcome(None, None, tuple(failures))

    def _failed(self, name: str, err: Exception) -> RuleFailure:
        failure = RuleFailure(name, type(err).__name__)
        if name not in self._failing:
            self._failing.add(name)
            log.warning(
                "routing rule %s failed (%s); it is skipped until it works again",
                name,
                failure.error_class,
            )
        return failure

    def _recovered(self, name: str) -> None:
        if name in self._failing:
            self._failing.discard(name)
            log.info("routing rule %s works again", name)


def default_ruleset() -> RuleSet:
    """The rules every deployment runs, in order."""
    return RuleSet(
        [
            # Calls 112 has dispatched a unit for: never filed to LAPOR!.
            EmergencyRule(),
        ]
    )
