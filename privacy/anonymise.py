"""Removing a reporter's personal data from the store, inside the caller's transaction.

What goes: the reporter's name and contact; their name, handle and every NIK, phone number and
e-mail address in the subject, the text, follow-up messages, routing reasons and LAPOR!'s
follow-ups; `extra` keys that may name someone; attachment file names; the raw input (the
original message, row or transcript, and with it the attachments' bytes); the complaint's entries
in the duplicate index (a hashed contact still links a person's complaints). What stays: ids,
channel, state, agency, district, timestamps, the LAPOR! tracking id and status history: the
statistics. Each complaint gets a row in `anonymised_complaints` and one in the audit log, whose
detail holds counts only, never data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from muara.privacy.masking import Masker, mask_attachments, mask_occurrences, masker_for
from muara.store.duplicate_tables import duplicate_fingerprints, duplicate_keys
from muara.store.followups_tables import complaint_messages
from muara.store.lapor_tables import lapor_followups, lapor_forwards
from muara.store.privacy_tables import anonymised_complaints
from muara.store.review_tables import audit_log
from muara.store.tables import complaints, decisions, exports, raw_inputs

ANONYMISE_ACTION = "anonymise"
MENTION_ACTION = "forget-mention"
# Statement parameters per IN list: well under SQLite's and asyncpg's limits.
_CHUNK = 400


@dataclass
class Outcome:
    """What one run touched: the complaints, and rows changed per table."""

    complaint_ids: list[int] = field(default_factory=list)
    rows: Counter[str] = field(default_factory=Counter)

    def add(self, other: Outcome) -> None:
        """Fold another run's outcome into this one."""
        self.complaint_ids.extend(other.complaint_ids)
        self.rows.update(other.rows)


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[at : at + _CHUNK]) for at in range(0, len(ids), _CHUNK)]


class _Run:
    """One anonymisation or mention-masking of a batch of complaints; counts per complaint."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.per_complaint: dict[int, Counter[str]] = {}

    def count(self, complaint_id: int, table: str, n: int = 1) -> None:
        if n:
            self.per_complaint.setdefault(complaint_id, Counter())[table] += n

    async def mask_column(
        self, table: Table, column: str, mask: Mapping[int, Callable[[str], str]], label: str
    ) -> None:
        """Rewrite `table.column` of the complaints in `mask` (complaint id -> str -> str)."""
        key = table.c.complaint_id
        changed = []
        for chunk in _chunks(list(mask)):
            rows = await self.conn.execute(
                select(table.c.id, key, table.c[column]).where(key.in_(chunk))
            )
            for row_id, complaint_id, value in rows:
                if value is None:
                    continue
                masked = mask[complaint_id](value)
                if masked != value:
                    changed.append({"b_id": row_id, "b_value": masked})
                    self.count(complaint_id, label)
        if changed:
            await self.conn.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values({column: bindparam("b_value")}),
                changed,
            )

    async def drop_raw(self, raw_of: dict[int, set[int]]) -> None:
        """Empty the raw inputs (complaint id -> raw input ids); the rows stay for idempotency."""
        owner = {raw_id: cid for cid, raws in raw_of.items() for raw_id in raws}
        for chunk in _chunks(sorted(owner)):
            full = await self.conn.scalars(
                select(raw_inputs.c.id).where(
                    raw_inputs.c.id.in_(chunk), func.length(raw_inputs.c.content) > 0
                )
            )
            emptied = list(full)
            if emptied:
                await self.conn.execute(
                    update(raw_inputs).where(raw_inputs.c.id.in_(emptied)).values(content=b"")
                )
            for raw_id in emptied:
                self.count(owner[raw_id], "raw_inputs")

    async def raw_inputs_of(self, ids: Sequence[int]) -> dict[int, set[int]]:
        """The raw inputs behind the complaints and their follow-up messages."""
        found: dict[int, set[int]] = {}
        for chunk in _chunks(ids):
            for table in (complaints, complaint_messages):
                owner = (
                    complaints.c.id if table is complaints else complaint_messages.c.complaint_id
                )
                rows = await self.conn.execute(
                    select(owner, table.c.raw_input_id).where(
                        owner.in_(chunk), table.c.raw_input_id.is_not(None)
                    )
                )
                for complaint_id, raw_id in rows:
                    found.setdefault(complaint_id, set()).add(raw_id)
        return found

    async def audit(
        self, ids: Sequence[int], actor: str, action: str, detail: dict[str, Any], now: datetime
    ) -> None:
        """One audit record per complaint: who, why, and how many rows per table."""
        await self.conn.execute(
            audit_log.insert(),
            [
                {
                    "at": now,
                    "actor": actor,
                    "action": action,
                    "complaint_id": complaint_id,
                    "detail": {**detail, "rows": dict(self.per_complaint.get(complaint_id, {}))},
                    "address": None,
                }
                for complaint_id in ids
            ],
        )

    def outcome(self, ids: Sequence[int]) -> Outcome:
        total: Counter[str] = Counter()
        for counts in self.per_complaint.values():
            total.update(counts)
        return Outcome(list(ids), total)


async def anonymise(
    conn: AsyncConnection, ids: Sequence[int], *, reason: str, actor: str, now: datetime
) -> Outcome:
    """Remove the reporter's personal data from these complaints (those not done already)."""
    maskers: dict[int, Masker] = {}
    updates = []
    for chunk in _chunks(sorted(set(ids))):
        rows = await conn.execute(
            select(
                complaints.c.id,
                complaints.c.subject,
                complaints.c.text,
                complaints.c.reporter_name,
                complaints.c.reporter_contact,
                complaints.c.extra,
                complaints.c.attachments,
            ).where(
                complaints.c.id.in_(chunk),
                ~select(anonymised_complaints.c.complaint_id)
                .where(anonymised_complaints.c.complaint_id == complaints.c.id)
                .exists(),
            )
        )
        for row in rows:
            masker = maskers[row.id] = masker_for(row.reporter_name, row.reporter_contact)
            updates.append(
                {
                    "b_id": row.id,
                    "b_subject": masker.optional(row.subject),
                    "b_text": masker.text(row.text),
                    "b_extra": masker.extra(row.extra),
                    "b_attachments": mask_attachments(row.attachments),
                }
            )
    done = sorted(maskers)
    run = _Run(conn)
    if not done:
        return Outcome()
    await conn.execute(
        update(complaints)
        .where(complaints.c.id == bindparam("b_id"))
        .values(
            subject=bindparam("b_subject"),
            text=bindparam("b_text"),
            reporter_name=None,
            reporter_contact=None,
            extra=bindparam("b_extra"),
            attachments=bindparam("b_attachments"),
        ),
        updates,
    )
    for complaint_id in done:
        run.count(complaint_id, "complaints")
    texts = {cid: masker.text for cid, masker in maskers.items()}
    await run.mask_column(complaint_messages, "text", texts, "complaint_messages")
    await run.mask_column(decisions, "reason", texts, "decisions")
    await run.mask_column(lapor_followups, "content", texts, "lapor_followups")
    await run.mask_column(exports, "last_error", texts, "exports")
    # LAPOR!'s error messages may quote what was sent.
    await run.mask_column(lapor_forwards, "last_error", texts, "lapor_forwards")
    await run.drop_raw(await run.raw_inputs_of(done))
    for table, label in (
        (duplicate_keys, "duplicate_keys"),
        (duplicate_fingerprints, "duplicate_fingerprints"),
    ):
        for chunk in _chunks(done):
            counted = await conn.execute(
                select(table.c.complaint_id, func.count())
                .where(table.c.complaint_id.in_(chunk))
                .group_by(table.c.complaint_id)
            )
            for complaint_id, n in counted:
                run.count(complaint_id, label, n)
            await conn.execute(delete(table).where(table.c.complaint_id.in_(chunk)))
    await conn.execute(
        anonymised_complaints.insert(),
        [{"complaint_id": cid, "at": now, "reason": reason} for cid in done],
    )
    await run.audit(done, actor, ANONYMISE_ACTION, {"reason": reason}, now)
    return run.outcome(done)


async def mask_mentions(
    conn: AsyncConnection, ids: Sequence[int], identity: str, *, actor: str, now: datetime
) -> Outcome:
    """Mask one phone number or e-mail address where other reporters' complaints quote it.

    Their own reporter stays; the raw input goes, since it holds the number as well.
    """
    if not ids:
        return Outcome()
    run = _Run(conn)

    def masked(value: str) -> str:
        return mask_occurrences(value, identity)[0]

    mask = dict.fromkeys(ids, masked)
    key = complaints.c.id
    touched: set[int] = set()
    for column in ("subject", "text"):
        changed = []
        for chunk in _chunks(sorted(ids)):
            for complaint_id, value in await conn.execute(
                select(key, complaints.c[column]).where(key.in_(chunk))
            ):
                if value is not None and (new := masked(value)) != value:
                    changed.append({"b_id": complaint_id, "b_value": new})
                    touched.add(complaint_id)
        if changed:
            await conn.execute(
                update(complaints)
                .where(key == bindparam("b_id"))
                .values({column: bindparam("b_value")}),
                changed,
            )
    for complaint_id in touched:
        run.count(complaint_id, "complaints")
    await run.mask_column(complaint_messages, "text", mask, "complaint_messages")
    await run.mask_column(decisions, "reason", mask, "decisions")
    await run.mask_column(lapor_followups, "content", mask, "lapor_followups")
    await run.drop_raw(await run.raw_inputs_of(sorted(ids)))
    await run.audit(sorted(ids), actor, MENTION_ACTION, {"reason": "forget"}, now)
    return run.outcome(sorted(ids))
