"""Suggestion rules: what the classifier suggested (e.g. "DLH, but near the river: review")."""

from __future__ import annotations

from collections.abc import Iterable

from muara.domain import Suggestion
from muara.store.records import ComplaintRecord


class SuggestedAgencyMatch:
    """Holds when the classifier's best suggestion is one of the agencies."""

    def __init__(self, agencies: Iterable[str]) -> None:
        self.agencies = frozenset(agencies)

    def matches(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> str | None:
        """Names the suggested agency; a complaint without a suggestion never matches."""
        if suggestion is None or suggestion.agency not in self.agencies:
            return None
        return f"suggested {suggestion.agency}"
