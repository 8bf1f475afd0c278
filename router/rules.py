"""The routing decision: pure, so every case is a table row in the tests."""

from __future__ import annotations

from muara.config import RouterSettings
from muara.domain import Decision, DecisionMode, State, Suggestion

# Labels a model may use to say "no agency: a person must look" (see classify.training).
REVIEW_LABELS = frozenset({"__REVIEW__"})


def decide(suggestion: Suggestion | None, settings: RouterSettings) -> Decision:
    """Auto-route a confident suggestion; everything else waits for a coordinator."""
    if suggestion is None:
        return Decision(State.REVIEW, None, DecisionMode.AUTO, "auto", "no suggestion")
    if suggestion.agency in REVIEW_LABELS:
        return Decision(
            State.REVIEW, None, DecisionMode.AUTO, "auto", "model routes this kind to review"
        )
    threshold = settings.auto_route_threshold
    if suggestion.confidence >= threshold:
        return Decision(
            State.ROUTED,
            suggestion.agency,
            DecisionMode.AUTO,
            "auto",
            f"confidence {suggestion.confidence:.2f} >= threshold {threshold:.2f}",
        )
    return Decision(
        State.REVIEW,
        None,
        DecisionMode.AUTO,
        "auto",
        f"confidence {suggestion.confidence:.2f} < threshold {threshold:.2f}",
    )
