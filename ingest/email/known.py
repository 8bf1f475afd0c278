"""Which messages the store already has, asked before their bodies are fetched: a rescan after
a UIDVALIDITY change, or a message that reached two mailboxes, costs a header, not a download."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.store.followups_tables import complaint_messages
from muara.store.tables import complaints

_CHUNK = 500


async def known_source_ids(
    engine: AsyncEngine, channel: str, source_ids: Collection[str]
) -> set[str]:
    """The ids among `source_ids` stored on `channel`, as a complaint or as a follow-up."""
    wanted = sorted(set(source_ids))
    found: set[str] = set()
    async with engine.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            query = union(
                select(complaints.c.source_id).where(
                    complaints.c.channel == channel, complaints.c.source_id.in_(chunk)
                ),
                select(complaint_messages.c.source_id).where(
                    complaint_messages.c.channel == channel,
                    complaint_messages.c.source_id.in_(chunk),
                ),
            )
            found.update(str(row[0]) for row in await conn.execute(query))
    return found
