"""The one protocol every channel implements, and the sink it hands complaints to.

A collector reads its source, hands each complaint (or each piece of bad input) to the sink, and
acknowledges the source only after the sink has returned: the sink returns after the commit.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from muara.domain import NewComplaint, RawInput


class StoreOutcome(enum.Enum):
    """What the store did with a complaint or a quarantine record."""

    STORED = "stored"
    ALREADY_KNOWN = "already known"


@dataclass(frozen=True, slots=True)
class Stored:
    """The store's answer: the record's id and whether it was new."""

    id: int
    outcome: StoreOutcome

    @property
    def created(self) -> bool:
        """True when this call created the record."""
        return self.outcome is StoreOutcome.STORED


class IngestSink(Protocol):
    """Where collectors put what they read. Each call returns after its commit."""

    async def store(self, complaint: NewComplaint, raw: RawInput | None) -> Stored:
        """Store one complaint; storing the same (channel, source id) again is a no-op."""
        ...

    async def store_many(self, items: list[tuple[NewComplaint, RawInput | None]]) -> list[Stored]:
        """Store several complaints in one transaction (same semantics as `store`)."""
        ...

    async def quarantine(self, raw: RawInput, error_class: str, reason: str) -> Stored:
        """Keep input that could not be parsed, with a reason free of personal data."""
        ...


@dataclass(slots=True)
class PollReport:
    """What one poll of a source did; feeds metrics, logs and /readyz."""

    ingested: int = 0
    already_known: int = 0
    quarantined: int = 0
    discarded: int = 0

    def add(self, other: PollReport) -> None:
        """Fold another report into this one."""
        self.ingested += other.ingested
        self.already_known += other.already_known
        self.quarantined += other.quarantined
        self.discarded += other.discarded


class Collector(Protocol):
    """A channel's reader. A new channel is one new module implementing this."""

    @property
    def name(self) -> str:
        """Unique source name (config), used in metrics, logs and status."""
        ...

    @property
    def channel(self) -> str:
        """The channel its complaints are recorded under."""
        ...

    @property
    def poll_seconds(self) -> float:
        """How long to wait between polls."""
        ...

    async def poll(self, sink: IngestSink) -> PollReport:
        """Hand everything new to `sink`, then acknowledge it at the source; raise on failure."""
        ...


@runtime_checkable
class ReportsProgress(Protocol):
    """A collector whose poll may wait a long time once its work is done (IMAP IDLE waits up
    to `idle_seconds`): it calls `on_progress` after each successful read, so the daemon's
    health (and /readyz) sees a recovery when it happens, not when the wait ends."""

    on_progress: Callable[[], None] | None
