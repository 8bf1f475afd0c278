"""A coordinator's re-routing of a complaint, possibly after it was filed into LAPOR!.

A filed (EXPORTED) complaint goes back to ROUTED with its new agency; the export stage then sees
that LAPOR! has it with another institution and makes LAPOR!'s forward call, never a second filing.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.domain import DecisionMode, State, check_transition
from muara.store.records import Clock
from muara.store.tables import complaints, decisions, state_history


class RerouteError(ValueError):
    """The complaint cannot be re-routed now (unknown, in another state, or being worked on)."""


async def reroute(
    engine: AsyncEngine,
    complaint_id: int,
    agency: str,
    *,
    decided_by: str,
    reason: str,
    clock: Clock,
) -> State:
    """Give a ROUTED or EXPORTED complaint a new agency; the state it was in.

    `decided_by` names the coordinator (`coordinator:<user>`); `reason` must carry no personal
    data. A complaint a worker holds a lease on is refused: try again when the lease is over.
    """
    now = clock()
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                select(complaints.c.state, complaints.c.agency).where(
                    complaints.c.id == complaint_id
                )
            )
        ).first()
        if row is None:
            raise RerouteError(f"complaint {complaint_id} does not exist")
        current = State(row.state)
        if current not in (State.ROUTED, State.EXPORTED):
            raise RerouteError(f"complaint {complaint_id} is {current}, not ROUTED or EXPORTED")
        if row.agency == agency:
            raise RerouteError(f"complaint {complaint_id} is already routed to {agency}")
        if current is State.EXPORTED:
            check_transition(current, State.ROUTED)
        moved = await conn.execute(
            update(complaints)
            .where(
                complaints.c.id == complaint_id,
                complaints.c.state == current.value,
                or_(complaints.c.lease_expires_at.is_(None), complaints.c.lease_expires_at < now),
            )
            .values(
                state=State.ROUTED.value,
                agency=agency,
                state_changed_at=now,
                lease_owner=None,
                lease_expires_at=None,
                not_before=None,
            )
        )
        if moved.rowcount != 1:
            raise RerouteError(f"complaint {complaint_id} is being worked on; try again shortly")
        if current is State.EXPORTED:
            await conn.execute(
                state_history.insert().values(
                    complaint_id=complaint_id,
                    from_state=current.value,
                    to_state=State.ROUTED.value,
                    at=now,
                    actor=decided_by,
                )
            )
        await conn.execute(
            decisions.insert().values(
                complaint_id=complaint_id,
                target_state=State.ROUTED.value,
                agency=agency,
                mode=DecisionMode.COORDINATOR.value,
                decided_by=decided_by,
                reason=reason,
                created_at=now,
            )
        )
    return current
