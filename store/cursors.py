"""Per-source read positions (IMAP UIDVALIDITY and last UID, X since_id), saved after commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.store.records import Clock
from muara.store.tables import source_cursors


class Cursors:
    """A JSON value per source name; a collector advances it only after its batch is stored."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def get(self, source: str) -> dict[str, Any] | None:
        """The source's saved position, or None before its first successful read."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                select(source_cursors.c.cursor).where(source_cursors.c.source == source)
            )
        return dict(value) if value is not None else None

    async def set(self, source: str, cursor: dict[str, Any]) -> None:
        """Save the source's position (insert or replace)."""
        dialect = sqlite if self.engine.dialect.name == "sqlite" else postgresql
        statement = dialect.insert(source_cursors).values(
            source=source, cursor=cursor, updated_at=self.clock()
        )
        statement = statement.on_conflict_do_update(
            index_elements=["source"],
            set_={"cursor": statement.excluded.cursor, "updated_at": statement.excluded.updated_at},
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)
