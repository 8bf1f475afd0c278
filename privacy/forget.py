"""`muara forget --contact ADDRESS`: a reporter's request to have their personal data removed.

Finds the reporter's complaints by their contact (however the phone number was written), and,
for a phone number or an e-mail address, the other complaints and follow-up messages that quote
it. The reporter's own complaints are anonymised whatever their age or state (a complaint still
on its way to LAPOR! goes on without a name); in the others only the quoted number or address is
masked. One transaction: a dry run is the same work rolled back, so it reports exactly what a
real run would touch. The audit log gets a record per complaint and one for the request, with
the kind of contact and counts, never the contact itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muara.privacy.anonymise import Outcome, anonymise, mask_mentions
from muara.privacy.masking import contact_identity, contact_kind, could_mention, mentions
from muara.store.followups_tables import complaint_messages
from muara.store.records import Clock, utc_now
from muara.store.review_tables import audit_log
from muara.store.tables import complaints

FORGET_ACTION = "forget"
_STREAM_ROWS = 2000


class NotAContactError(ValueError):
    """The text given is no phone number, e-mail address or X handle."""


@dataclass
class ForgetReport:
    """What a forget request touched (or would touch, in a dry run)."""

    kind: str
    reporter: Outcome = field(default_factory=Outcome)
    mentioned: Outcome = field(default_factory=Outcome)
    dry_run: bool = False

    @property
    def rows(self) -> Counter[str]:
        """Rows changed per table, both parts together."""
        return self.reporter.rows + self.mentioned.rows


async def _stream(conn: AsyncConnection, query: Select[Any]) -> AsyncIterator[Row[Any]]:
    result = await conn.stream(query.execution_options(yield_per=_STREAM_ROWS))
    # A partition at a time: one hop to the driver's thread per 2,000 rows, not per row.
    async for partition in result.partitions():
        for row in partition:
            yield row


async def reporter_complaints(conn: AsyncConnection, identity: str) -> list[int]:
    """Complaints whose reporter contact is `identity`, however it was written."""
    query = select(complaints.c.id, complaints.c.reporter_contact).where(
        complaints.c.reporter_contact.is_not(None)
    )
    if identity.startswith("email:"):
        query = query.where(complaints.c.reporter_contact.icontains(identity[6:], autoescape=True))
    return [
        row.id
        async for row in _stream(conn, query)
        if could_mention(row.reporter_contact, identity)
        and contact_identity(row.reporter_contact) == identity
    ]


async def quoting_complaints(conn: AsyncConnection, identity: str) -> set[int]:
    """Complaints whose subject, text or a follow-up message writes this phone or address."""
    if identity.startswith("x:"):
        return set()
    found: set[int] = set()
    text, subject, message = complaints.c.text, complaints.c.subject, complaint_messages.c.text
    own = select(complaints.c.id, subject, text)
    theirs = select(complaint_messages.c.complaint_id, message)
    if identity.startswith("email:"):
        address = identity[6:]
        own = own.where(
            or_(
                text.icontains(address, autoescape=True),
                subject.icontains(address, autoescape=True),
            )
        )
        theirs = theirs.where(message.icontains(address, autoescape=True))
    async for row in _stream(conn, own):
        if mentions(row.text, identity) or mentions(row.subject, identity):
            found.add(row.id)
    async for row in _stream(conn, theirs):
        if mentions(row.text, identity):
            found.add(row.complaint_id)
    return found


async def forget(
    engine: AsyncEngine,
    contact: str,
    *,
    actor: str = FORGET_ACTION,
    dry_run: bool = False,
    clock: Clock = utc_now,
) -> ForgetReport:
    """Remove one reporter's personal data; with `dry_run`, only report what that would touch."""
    identity = contact_identity(contact)
    if identity is None:
        raise NotAContactError(
            "not a phone number, e-mail address or X handle (e.g. 0812…, +62 812…, "
            "nama@contoh.id, @akun)"
        )
    report = ForgetReport(contact_kind(identity), dry_run=dry_run)
    now = clock()
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            own = await reporter_complaints(conn, identity)
            quoting = await quoting_complaints(conn, identity) - set(own)
            report.reporter = await anonymise(conn, own, reason=FORGET_ACTION, actor=actor, now=now)
            report.mentioned = await mask_mentions(
                conn, sorted(quoting), identity, actor=actor, now=now
            )
            await conn.execute(
                audit_log.insert().values(
                    at=now,
                    actor=actor,
                    action=FORGET_ACTION,
                    complaint_id=None,
                    detail={
                        "contact_kind": report.kind,
                        "complaints": len(report.reporter.complaint_ids),
                        "mentioned_in": len(report.mentioned.complaint_ids),
                        "rows": dict(report.rows),
                    },
                    address=None,
                )
            )
        except BaseException:
            await transaction.rollback()
            raise
        if dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
    return report


def render(report: ForgetReport) -> str:
    """The operator's report: ids and counts, never the contact or anything found."""

    def ids(outcome: Outcome) -> str:
        return ", ".join(str(i) for i in outcome.complaint_ids) or "none"

    lines = [
        f"forget: the {report.kind} given (not shown)"
        + (" — dry run, nothing changed" if report.dry_run else ""),
        f"  reporter's complaints anonymised: {len(report.reporter.complaint_ids)} "
        f"({ids(report.reporter)})",
        f"  other complaints quoting it, masked there: {len(report.mentioned.complaint_ids)} "
        f"({ids(report.mentioned)})",
        "  rows changed per table:",
    ]
    rows = report.rows
    lines += [f"    {table}: {rows[table]}" for table in sorted(rows)] or ["    none"]
    return "\n".join(lines)
