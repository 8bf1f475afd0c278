"""The complaint and the states it moves through (DESIGN.md, "The flow of one complaint").

Pure values only: no I/O lives here, so every other layer can share these names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class State(enum.StrEnum):
    """Where a complaint is in the flow; the side exits are states too."""

    NEW = "NEW"
    CLASSIFIED = "CLASSIFIED"
    REVIEW = "REVIEW"
    ROUTED = "ROUTED"
    EXPORTED = "EXPORTED"
    CLOSED = "CLOSED"
    DUPLICATE = "DUPLICATE"
    DISCARDED = "DISCARDED"
    QUARANTINED = "QUARANTINED"
    EXPORT_FAILED = "EXPORT_FAILED"


# Every legal move, and nothing else. A later stage adds a move here, not an `if` elsewhere.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.NEW: frozenset({State.CLASSIFIED, State.DUPLICATE, State.DISCARDED, State.QUARANTINED}),
    State.CLASSIFIED: frozenset({State.ROUTED, State.REVIEW, State.DUPLICATE, State.DISCARDED}),
    State.REVIEW: frozenset({State.ROUTED, State.DUPLICATE, State.DISCARDED}),
    State.ROUTED: frozenset({State.EXPORTED, State.EXPORT_FAILED, State.REVIEW}),
    State.EXPORTED: frozenset({State.CLOSED, State.ROUTED}),
    # An operator requeues a dead letter; it then goes through the exporter again.
    State.EXPORT_FAILED: frozenset({State.ROUTED}),
    # A coordinator may undo a wrong duplicate link or a wrong discard.
    State.DUPLICATE: frozenset({State.REVIEW}),
    State.DISCARDED: frozenset({State.REVIEW}),
    State.QUARANTINED: frozenset(),
    State.CLOSED: frozenset(),
}


class IllegalTransitionError(ValueError):
    """A state change that the flow does not allow: a bug, never something to retry."""

    def __init__(self, current: State, target: State) -> None:
        super().__init__(f"illegal transition {current} -> {target}")
        self.current = current
        self.target = target


def check_transition(current: State, target: State) -> None:
    """Raise `IllegalTransitionError` unless `current -> target` is in the table."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransitionError(current, target)


class Channel(enum.StrEnum):
    """The ways a complaint reaches the office."""

    EMAIL = "email"
    X = "x"
    CALLCENTER = "callcenter"
    EMERGENCY_112 = "112"


@dataclass(frozen=True, slots=True)
class Attachment:
    """What we know of an attachment; the content itself stays with the raw input."""

    filename: str
    content_type: str
    size: int
    dropped_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Reporter:
    """Who complained. Personal data: it lives in the store and nowhere else."""

    name: str | None = None
    contact: str | None = None
    is_anonymous: bool = False
    is_secret: bool = False


@dataclass(frozen=True, slots=True)
class NewComplaint:
    """A complaint as a collector hands it over: normalised, not yet stored."""

    channel: str
    source_id: str
    received_at: datetime
    text: str
    subject: str | None = None
    reporter: Reporter = field(default_factory=Reporter)
    district: str | None = None
    subdistrict: str | None = None
    attachments: tuple[Attachment, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    # Set by a collector that recognised noise (an auto-reply, a bounce, a retweet): the input is
    # stored as DISCARDED with this reason, so re-reading it stays a no-op and the reason is kept.
    discard_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RawInput:
    """The bytes a complaint or a quarantine record came from, kept for re-processing."""

    channel: str
    source_ref: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The classifier's answer: the best agency, its probability, and the runners-up."""

    agency: str
    confidence: float
    top: tuple[tuple[str, float], ...]
    model_version: str


class DecisionMode(enum.StrEnum):
    """Who made a routing decision."""

    AUTO = "auto"
    RULE = "rule"
    COORDINATOR = "coordinator"


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a complaint goes (or that it needs review), who decided and why."""

    target: State
    agency: str | None
    mode: DecisionMode
    decided_by: str
    reason: str
