"""The routing decision: pure, so every case is a table row in the tests."""

from __future__ import annotations

from collections.abc import Mapping

from muara.domain import Decision, DecisionMode, State, Suggestion
from muara.router.settings import RouterSettings

# Labels a model may use to say "no agency: a person must look" (see classify.training), and
# "a local-office matter, but no known office serves where it is" (see classify.location).
REVIEW_LABELS = frozenset({"__REVIEW__", "__LOCAL_OFFICE__"})


def decide(
    suggestion: Suggestion | None,
    settings: RouterSettings,
    thresholds: Mapping[str, float] | None = None,
) -> Decision:
    """Auto-route a confident suggestion; everything else waits for a coordinator.

    `thresholds` are the model's per-agency thresholds (chosen on held-out data for the target
    precision); an agency without one uses the global `auto_route_threshold`.
    """
    if suggestion is None:
        return Decision(State.REVIEW, None, DecisionMode.AUTO, "auto", "no suggestion")
    if suggestion.agency in REVIEW_LABELS:
        return Decision(
            State.REVIEW, None, DecisionMode.AUTO, "auto", "model routes this kind to review"
        )
    threshold = settings.auto_route_threshold
    if thresholds is not None:
        threshold = thresholds.get(suggestion.agency, threshold)
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
