"""The emergency rule: a 112 call the center handled as an emergency is not filed to LAPOR!."""

from __future__ import annotations

from muara.domain import Decision, DecisionMode, State, Suggestion
from muara.ingest.transcripts import EMERGENCY_KINDS
from muara.store.records import ComplaintRecord

REASON = "emergency: dispatched by 112"


class EmergencyRule:
    """Fire, accident, crime and medical calls were dispatched by 112 already: DISCARDED.

    DISCARDED (not a new state) keeps the record, the reason and the coordinator's undo
    (DISCARDED -> REVIEW) without a change to the state machine or the LAPOR! exporter.
    """

    name = "emergency-112"

    def predicate(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> bool:
        """The 112 transcript parser marked the call as an emergency."""
        return complaint.extra.get("emergency") in EMERGENCY_KINDS

    def action(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> Decision:
        """Discard it with the kind of emergency in the reason."""
        kind = complaint.extra["emergency"]
        return Decision(
            State.DISCARDED, None, DecisionMode.RULE, f"rule:{self.name}", f"{REASON} ({kind})"
        )
