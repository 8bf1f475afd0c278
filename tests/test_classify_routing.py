"""The router holds each suggestion to its agency's threshold from the model (router/rules.py)."""

from __future__ import annotations

import math

import pytest

from muara.classify.location import LOCAL_OFFICE_LABEL
from muara.domain import DecisionMode, State, Suggestion
from muara.router.rules import decide
from muara.router.settings import RouterSettings

GLOBAL = RouterSettings(auto_route_threshold=0.8)
THRESHOLDS = {"DLH": 0.6, "DINSOS": 0.97, "SATPOLPP": math.inf, "Kelurahan Krajan": 0.9}


def _suggest(agency: str, confidence: float) -> Suggestion:
    return Suggestion(agency, confidence, ((agency, confidence),), "v1")


@pytest.mark.parametrize(
    ("agency", "confidence", "state", "reason"),
    [
        ("DLH", 0.65, State.ROUTED, "confidence 0.65 >= threshold 0.60"),  # below the global
        ("DINSOS", 0.95, State.REVIEW, "confidence 0.95 < threshold 0.97"),  # above it
        ("SATPOLPP", 1.0, State.REVIEW, "confidence 1.00 < threshold inf"),  # never reached
        ("Kelurahan Krajan", 0.92, State.ROUTED, "confidence 0.92 >= threshold 0.90"),
        ("PDAM", 0.85, State.ROUTED, "confidence 0.85 >= threshold 0.80"),  # none: the global
        ("PDAM", 0.75, State.REVIEW, "confidence 0.75 < threshold 0.80"),
    ],
)
def test_per_agency_thresholds(agency: str, confidence: float, state: State, reason: str) -> None:
    decision = decide(_suggest(agency, confidence), GLOBAL, THRESHOLDS)
    assert decision.target is state
    assert decision.reason == reason
    assert decision.mode is DecisionMode.AUTO
    assert decision.agency == (agency if state is State.ROUTED else None)


def test_without_thresholds_the_global_one_applies() -> None:
    assert decide(_suggest("DLH", 0.65), GLOBAL).target is State.REVIEW
    assert decide(_suggest("DLH", 0.65), GLOBAL, None).target is State.REVIEW


def test_an_unresolved_local_office_goes_to_review() -> None:
    decision = decide(_suggest(LOCAL_OFFICE_LABEL, 0.99), GLOBAL, {LOCAL_OFFICE_LABEL: 0.1})
    assert decision.target is State.REVIEW
    assert decision.agency is None
