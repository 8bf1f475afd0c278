"""An in-memory `IngestSink` for testing collectors; users of the library get it too.

It keeps the store's promises (unique by (channel, source id); quarantine unique by (channel,
source ref); a batch is all or nothing) and can fail on a chosen call to play a crash mid-file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from muara.domain import NewComplaint, RawInput
from muara.ingest.base import Stored, StoreOutcome


class SimulatedCrashError(RuntimeError):
    """Raised by `MemorySink` on the call it was told to fail; nothing of that call is kept."""


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """A quarantined input as `MemorySink` keeps it."""

    id: int
    raw: RawInput
    error_class: str
    reason: str


class MemorySink:
    """Keeps complaints and quarantine records in lists; `fail_on_call=n` fails the n-th call."""

    def __init__(self, *, fail_on_call: int | None = None) -> None:
        self.complaints: list[NewComplaint] = []
        self.raw_inputs: dict[int, RawInput] = {}
        self.quarantined: list[QuarantineRecord] = []
        self.calls = 0
        self.fail_on_call = fail_on_call
        self._complaint_ids: dict[tuple[str, str], int] = {}
        # One namespace for every raw input, quarantined or not, as in the store's raw_inputs.
        self._raw_ids: dict[tuple[str, str], int] = {}

    def _call(self) -> None:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise SimulatedCrashError(f"simulated crash on call {self.calls}")

    def _check(self, complaint: NewComplaint) -> None:
        # The real store refuses these too (store/tables.py), so a collector bug shows up here.
        if complaint.received_at.tzinfo is None:
            raise ValueError("naive received_at given to the sink; pass an aware one")

    async def store(self, complaint: NewComplaint, raw: RawInput | None) -> Stored:
        """Store one complaint; the same (channel, source id) again is "already known"."""
        return (await self.store_many([(complaint, raw)]))[0]

    async def store_many(
        self, items: Sequence[tuple[NewComplaint, RawInput | None]]
    ) -> list[Stored]:
        """Store several complaints, all or nothing."""
        self._call()
        for complaint, _ in items:
            self._check(complaint)
        answers: list[Stored] = []
        for complaint, raw in items:
            key = (complaint.channel, complaint.source_id)
            known = self._complaint_ids.get(key)
            if known is not None:
                answers.append(Stored(known, StoreOutcome.ALREADY_KNOWN))
                continue
            new_id = len(self.complaints) + 1
            self._complaint_ids[key] = new_id
            self.complaints.append(complaint)
            if raw is not None:
                self._keep_raw(raw)
            answers.append(Stored(new_id, StoreOutcome.STORED))
        return answers

    async def quarantine(self, raw: RawInput, error_class: str, reason: str) -> Stored:
        """Keep unparseable input; the same (channel, source ref) again is "already known"."""
        self._call()
        known = self._raw_ids.get((raw.channel, raw.source_ref))
        if known is not None:
            return Stored(known, StoreOutcome.ALREADY_KNOWN)
        new_id = self._keep_raw(raw)
        self.quarantined.append(QuarantineRecord(new_id, raw, error_class, reason))
        return Stored(new_id, StoreOutcome.STORED)

    def _keep_raw(self, raw: RawInput) -> int:
        key = (raw.channel, raw.source_ref)
        if key not in self._raw_ids:
            self._raw_ids[key] = len(self.raw_inputs) + 1
            self.raw_inputs[self._raw_ids[key]] = raw
        return self._raw_ids[key]
