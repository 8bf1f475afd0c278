"""Which stored complaint a post continues: a reply to the author's own post, or an edit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.domain import NewComplaint, RawInput, State
from muara.ingest.base import Stored
from muara.store.followups import Followups
from muara.store.records import Clock
from muara.store.tables import complaints


class Threads:
    """Follow-ups of X complaints, on the store's `Followups`."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock) -> None:
        self.engine = engine
        self.followups = Followups(engine, clock=clock)

    async def is_known(self, channel: str, post_id: str) -> bool:
        """True when the post is stored, as a complaint or as a follow-up."""
        return await self.followups.is_known(channel, post_id)

    async def continued(
        self, channel: str, post_ids: Sequence[str], contact: str | None
    ) -> int | None:
        """The complaint by the same author that one of `post_ids` belongs to, if it is one.

        A thread whose first post was discarded (chatter, praise) does not swallow the reply: the
        reply is judged as a complaint of its own.
        """
        found = await self.followups.find_thread(channel, post_ids, contact)
        if found is None:
            return None
        async with self.engine.connect() as conn:
            state = await conn.scalar(select(complaints.c.state).where(complaints.c.id == found))
        return None if state == State.DISCARDED.value else found

    async def attach(self, complaint_id: int, post: NewComplaint, raw: RawInput) -> Stored:
        """Keep the post as a follow-up of the complaint (idempotent)."""
        return await self.followups.attach(complaint_id, post, raw)
