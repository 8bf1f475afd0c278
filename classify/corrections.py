"""Coordinators' routing decisions in the store, as training examples (read only).

Every complaint a coordinator routed is a labelled example of this region's own making; when a
coordinator decided a complaint more than once, the latest decision is the one that counts.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.classify.dataset import Example
from muara.classify.location import Place
from muara.domain import DecisionMode
from muara.store.tables import complaints, decisions


async def coordinator_examples(engine: AsyncEngine) -> list[Example]:
    """One example per complaint a coordinator routed to an agency, oldest decision first."""
    query = (
        select(
            decisions.c.complaint_id,
            decisions.c.agency,
            complaints.c.subject,
            complaints.c.text,
            complaints.c.received_at,
            complaints.c.district,
            complaints.c.subdistrict,
        )
        .join(complaints, complaints.c.id == decisions.c.complaint_id)
        .where(decisions.c.mode == DecisionMode.COORDINATOR.value)
        .where(decisions.c.agency.is_not(None))
        .order_by(decisions.c.created_at, decisions.c.id)
    )
    latest: dict[int, Example] = {}
    async with engine.connect() as conn:
        for row in await conn.execute(query):
            text = f"{row.subject}\n{row.text}" if row.subject else row.text
            place = None
            if row.district or row.subdistrict:
                place = Place(row.district or None, row.subdistrict or None)
            latest.pop(row.complaint_id, None)  # re-inserted: ordered by the latest decision
            latest[row.complaint_id] = Example(text, row.agency, row.received_at, place)
    return list(latest.values())
