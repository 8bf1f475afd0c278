"""What one complaint's turn through the export stage ended in; the stage commits each kind."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from muara.exporters.lapor.errors import LaporError
from muara.store.records import ComplaintRecord


class Kind(enum.Enum):
    """How the stage leaves the complaint."""

    EXPORTED = "exported"  # LAPOR! has it (filed now, found by reconciling, or forwarded)
    DEAD = "dead"  # the retry budget is spent or LAPOR! refused it: EXPORT_FAILED
    DEFER = "defer"  # try again at `until` (a retry, a wait before reconciling, an open breaker)
    HOLD = "hold"  # an operator must look: `reason` says why, `evidence` what was seen


@dataclass(frozen=True, slots=True)
class Outcome:
    """One complaint's outcome and what the outbox should remember of it."""

    record: ComplaintRecord
    kind: Kind
    lapor_id: str | None = None
    institution_id: int | None = None
    attachment_ids: tuple[int, ...] = ()
    forwarded: bool = False
    filed_now: bool = False
    until: datetime | None = None
    reason: str | None = None
    hold_label: str | None = None  # the metric label of a hold
    error: LaporError | None = None
    # Outbox columns to write for a DEFER or HOLD (state, evidence, lookups, …); None: leave.
    outbox: dict[str, Any] | None = field(default=None)
