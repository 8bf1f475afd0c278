"""Attaching a follow-up message to the complaint it continues, idempotently."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.domain import NewComplaint, RawInput, State
from muara.ingest.base import Stored, StoreOutcome
from muara.store.followups_tables import complaint_messages
from muara.store.records import Clock
from muara.store.repository import dialect_insert, insert_raw
from muara.store.tables import complaints


class Followups:
    """Finds the complaint a message continues and keeps the message with it."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def find_thread(
        self, channel: str, source_ids: Sequence[str], reporter_contact: str | None
    ) -> int | None:
        """The complaint one of `source_ids` belongs to (as itself or as a follow-up).

        Only a message from the same reporter continues a complaint: a stranger replying to a
        thread is a complaint of their own. Neither does a discarded complaint (an auto-reply, a
        word of thanks): nobody reads it again, so what its reporter writes next, perhaps the
        real complaint, must stand on its own.
        """
        if not source_ids:
            return None
        async with self.engine.connect() as conn:
            live = complaints.c.state != State.DISCARDED.value
            direct = select(complaints.c.id, complaints.c.reporter_contact).where(
                complaints.c.channel == channel, complaints.c.source_id.in_(list(source_ids)), live
            )
            via_message = (
                select(complaints.c.id, complaints.c.reporter_contact)
                .join(complaint_messages, complaint_messages.c.complaint_id == complaints.c.id)
                .where(
                    complaint_messages.c.channel == channel,
                    complaint_messages.c.source_id.in_(list(source_ids)),
                    live,
                )
            )
            rows = (await conn.execute(direct.union(via_message))).all()
        for complaint_id, contact in sorted(rows):
            if reporter_contact is not None and _same_contact(contact, reporter_contact):
                return int(complaint_id)
        return None

    async def attach(
        self, complaint_id: int, message: NewComplaint, raw: RawInput | None
    ) -> Stored:
        """Keep `message` as a follow-up of `complaint_id`; the same message again is a no-op."""
        now = self.clock()
        async with self.engine.begin() as conn:
            raw_id = (await insert_raw(conn, raw, now)).id if raw is not None else None
            new_id = await conn.scalar(
                dialect_insert(conn, complaint_messages)
                .values(
                    complaint_id=complaint_id,
                    channel=message.channel,
                    source_id=message.source_id,
                    received_at=message.received_at,
                    text=message.text,
                    raw_input_id=raw_id,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["channel", "source_id"])
                .returning(complaint_messages.c.id)
            )
            if new_id is not None:
                return Stored(int(new_id), StoreOutcome.STORED)
            found = await conn.scalar(
                select(complaint_messages.c.id).where(
                    complaint_messages.c.channel == message.channel,
                    complaint_messages.c.source_id == message.source_id,
                )
            )
        assert found is not None
        return Stored(int(found), StoreOutcome.ALREADY_KNOWN)

    async def messages(self, complaint_id: int) -> list[dict[str, object]]:
        """The follow-ups of a complaint, oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(complaint_messages)
                .where(complaint_messages.c.complaint_id == complaint_id)
                .order_by(complaint_messages.c.received_at, complaint_messages.c.id)
            )
            return [dict(row) for row in rows.mappings()]

    async def is_known(self, channel: str, source_id: str) -> bool:
        """True when this message is stored, as a complaint or as a follow-up."""
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(complaints.c.id)
                .where(complaints.c.channel == channel, complaints.c.source_id == source_id)
                .union(
                    select(complaint_messages.c.complaint_id).where(
                        complaint_messages.c.channel == channel,
                        complaint_messages.c.source_id == source_id,
                    )
                )
                .limit(1)
            )
        return found is not None


def _same_contact(stored: str | None, incoming: str) -> bool:
    return stored is not None and stored.strip().casefold() == incoming.strip().casefold()


__all__ = ["Followups"]
