"""Coordinators' decisions on complaints in REVIEW, each one transaction with its audit entry.

A decision moves the complaint only if it is still in REVIEW (two coordinators cannot both
decide it), records who decided (`coordinator:<username>`, mode `coordinator`) and why in
`decisions` — the classifier's training data — and writes the audit log in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muara.domain import DecisionMode, State, check_transition
from muara.store.records import Clock
from muara.store.review_accounts import User
from muara.store.review_queue import with_latest_suggestion
from muara.store.review_tables import audit_log
from muara.store.tables import complaints, decisions, state_history, suggestions

MAX_REASON = 500
# States a complaint may be linked to as the original of a duplicate.
ORIGINAL_STATES = frozenset(
    {State.REVIEW, State.ROUTED, State.EXPORTED, State.EXPORT_FAILED, State.CLOSED}
)


class ReviewError(Exception):
    """A decision that cannot be made; the message is safe to show (no complaint text)."""


class ConflictError(ReviewError):
    """The complaint is no longer waiting for review (someone else decided it), or is gone."""


class DeniedError(ReviewError):
    """The complaint belongs to an agency this coordinator does not decide for."""


class InvalidDecisionError(ReviewError):
    """The decision itself is wrong: an empty reason, a duplicate of itself, no such agency."""


@dataclass(frozen=True, slots=True)
class Decided:
    """A decision made: where the complaint went, and what the classifier had suggested."""

    complaint_id: int
    target: State
    agency: str | None
    suggested: str | None


@dataclass(frozen=True, slots=True)
class _Current:
    state: State
    agency: str | None
    suggested: str | None
    confidence: float | None
    duplicate_of_id: int | None


class ReviewDesk:
    """The decisions a coordinator makes, and the audit log of everything they do."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def audit(
        self,
        user: User,
        action: str,
        complaint_id: int | None = None,
        detail: dict[str, Any] | None = None,
        address: str | None = None,
    ) -> None:
        """Record an action that changes nothing else (a login, revealing a reporter)."""
        async with self.engine.begin() as conn:
            await self._audit(conn, user.actor, action, complaint_id, detail or {}, address)

    async def audit_as(
        self, actor: str, action: str, detail: dict[str, Any], address: str | None = None
    ) -> None:
        """Record an action by someone not logged in (a failed login, a lock-out)."""
        async with self.engine.begin() as conn:
            await self._audit(conn, actor, action, None, detail, address)

    async def _audit(
        self,
        conn: AsyncConnection,
        actor: str,
        action: str,
        complaint_id: int | None,
        detail: dict[str, Any],
        address: str | None,
    ) -> None:
        await conn.execute(
            audit_log.insert().values(
                at=self.clock(),
                actor=actor,
                action=action,
                complaint_id=complaint_id,
                detail=detail,
                address=address,
            )
        )

    async def _current(self, conn: AsyncConnection, ids: Sequence[int]) -> dict[int, _Current]:
        rows = await conn.execute(
            select(
                complaints.c.id,
                complaints.c.state,
                complaints.c.agency,
                suggestions.c.agency,
                suggestions.c.confidence,
                complaints.c.duplicate_of_id,
            )
            .select_from(with_latest_suggestion())
            .where(complaints.c.id.in_(list(ids)))
        )
        return {
            int(cid): _Current(State(state), agency, suggested, confidence, of)
            for cid, state, agency, suggested, confidence, of in rows
        }

    def _allowed(self, user: User, complaint_id: int, current: _Current | None) -> _Current:
        if current is None:
            raise ConflictError(f"complaint #{complaint_id} does not exist")
        if not user.may_see(current.agency or current.suggested):
            raise DeniedError(f"complaint #{complaint_id} is not for your agencies")
        if current.state is not State.REVIEW:
            raise ConflictError(
                f"complaint #{complaint_id} is no longer waiting for review ({current.state})"
            )
        return current

    async def _move(
        self,
        conn: AsyncConnection,
        user: User,
        complaint_id: int,
        target: State,
        *,
        agency: str | None,
        reason: str,
        values: dict[str, Any],
        detail: dict[str, Any],
        address: str | None,
    ) -> bool:
        """The fenced state change with its history, decision and audit rows."""
        check_transition(State.REVIEW, target)
        now = self.clock()
        moved = await conn.scalar(
            update(complaints)
            .where(complaints.c.id == complaint_id, complaints.c.state == State.REVIEW.value)
            .values(state=target.value, state_changed_at=now, **values)
            .returning(complaints.c.id)
        )
        if moved is None:
            return False
        await conn.execute(
            state_history.insert().values(
                complaint_id=complaint_id,
                from_state=State.REVIEW.value,
                to_state=target.value,
                at=now,
                actor=user.actor,
            )
        )
        await conn.execute(
            decisions.insert().values(
                complaint_id=complaint_id,
                target_state=target.value,
                agency=agency,
                mode=DecisionMode.COORDINATOR.value,
                decided_by=user.actor,
                reason=reason,
                created_at=now,
            )
        )
        action = {State.ROUTED: "route", State.DUPLICATE: "duplicate", State.DISCARDED: "discard"}
        await self._audit(conn, user.actor, action[target], complaint_id, detail, address)
        return True

    async def accept(
        self, user: User, ids: Sequence[int], address: str | None = None
    ) -> tuple[list[Decided], dict[int, ReviewError]]:
        """Route each complaint to its suggested agency; returns (done, skipped with why)."""
        done: list[Decided] = []
        skipped: dict[int, ReviewError] = {}
        async with self.engine.begin() as conn:
            found = await self._current(conn, ids)
            for complaint_id in dict.fromkeys(ids):
                try:
                    done.append(
                        await self._accept(
                            conn, user, complaint_id, found.get(complaint_id), address
                        )
                    )
                except ReviewError as err:
                    skipped[complaint_id] = err
        return done, skipped

    async def accept_one(
        self, user: User, complaint_id: int, address: str | None = None
    ) -> Decided:
        """Route one complaint to its suggested agency, or say why not."""
        async with self.engine.begin() as conn:
            found = await self._current(conn, [complaint_id])
            return await self._accept(conn, user, complaint_id, found.get(complaint_id), address)

    async def _accept(
        self,
        conn: AsyncConnection,
        user: User,
        complaint_id: int,
        found: _Current | None,
        address: str | None,
    ) -> Decided:
        current = self._allowed(user, complaint_id, found)
        agency = current.suggested
        if agency is None or agency.startswith("__"):
            raise InvalidDecisionError(f"complaint #{complaint_id} has no suggested agency")
        confidence = current.confidence or 0.0
        moved = await self._move(
            conn,
            user,
            complaint_id,
            State.ROUTED,
            agency=agency,
            reason=f"accepted the suggestion {agency} ({confidence:.2f})",
            values={"agency": agency},
            detail={"agency": agency, "suggested": agency},
            address=address,
        )
        if not moved:
            raise ConflictError(f"complaint #{complaint_id} was decided meanwhile")
        return Decided(complaint_id, State.ROUTED, agency, agency)

    async def recent_audit(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest audit entries, newest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
            )
            return [dict(row) for row in rows.mappings()]

    async def route(
        self,
        user: User,
        complaint_id: int,
        agency: str,
        note: str = "",
        address: str | None = None,
    ) -> Decided:
        """Route to an agency the coordinator chose (the suggestion or another one)."""
        agency = agency.strip()
        if not agency or len(agency) > 64:
            raise InvalidDecisionError("choose an agency")
        note = note.strip()[:MAX_REASON]
        async with self.engine.begin() as conn:
            current = self._allowed(
                user, complaint_id, (await self._current(conn, [complaint_id])).get(complaint_id)
            )
            if agency == current.suggested:
                reason = f"routed to the suggested {agency}"
            else:
                reason = f"routed to {agency} instead of the suggested {current.suggested or '-'}"
            if note:
                reason += f": {note}"
            moved = await self._move(
                conn,
                user,
                complaint_id,
                State.ROUTED,
                agency=agency,
                reason=reason,
                values={"agency": agency},
                detail={"agency": agency, "suggested": current.suggested},
                address=address,
            )
        if not moved:
            raise ConflictError(f"complaint #{complaint_id} was decided meanwhile")
        return Decided(complaint_id, State.ROUTED, agency, current.suggested)

    async def mark_duplicate(
        self, user: User, complaint_id: int, of_id: int, address: str | None = None
    ) -> Decided:
        """Link a complaint to the one it repeats (that one's original, if it is a duplicate)."""
        async with self.engine.begin() as conn:
            found = await self._current(conn, [complaint_id, of_id])
            current = self._allowed(user, complaint_id, found.get(complaint_id))
            original_id, original = of_id, found.get(of_id)
            repeats = original.duplicate_of_id if original is not None else None
            if original is not None and original.state is State.DUPLICATE and repeats is not None:
                original_id = repeats
                original = (await self._current(conn, [original_id])).get(original_id)
            if original is None:
                raise InvalidDecisionError(f"there is no complaint #{of_id}")
            if original_id == complaint_id:
                raise InvalidDecisionError("a complaint cannot be a duplicate of itself")
            if original.state not in ORIGINAL_STATES:
                raise InvalidDecisionError(
                    f"complaint #{original_id} is {original.state}: it cannot be the original"
                )
            if not user.may_see(original.agency or original.suggested):
                raise DeniedError(f"complaint #{original_id} is not for your agencies")
            moved = await self._move(
                conn,
                user,
                complaint_id,
                State.DUPLICATE,
                agency=None,
                reason=f"duplicate of #{original_id}",
                values={"duplicate_of_id": original_id},
                detail={"duplicate_of": original_id},
                address=address,
            )
            if moved:
                # Whatever repeated this complaint repeats the original too: links stay one deep.
                await conn.execute(
                    update(complaints)
                    .where(complaints.c.duplicate_of_id == complaint_id)
                    .values(duplicate_of_id=original_id)
                )
        if not moved:
            raise ConflictError(f"complaint #{complaint_id} was decided meanwhile")
        return Decided(complaint_id, State.DUPLICATE, None, current.suggested)

    async def discard(
        self, user: User, complaint_id: int, reason: str, address: str | None = None
    ) -> Decided:
        """Discard a complaint that is none (spam, a test, not for the government), with why."""
        reason = " ".join(reason.split())[:MAX_REASON]
        if len(reason) < 3:
            raise InvalidDecisionError("give a reason to discard")
        async with self.engine.begin() as conn:
            current = self._allowed(
                user, complaint_id, (await self._current(conn, [complaint_id])).get(complaint_id)
            )
            moved = await self._move(
                conn,
                user,
                complaint_id,
                State.DISCARDED,
                agency=None,
                reason=reason,
                values={"discard_reason": reason},
                detail={"reason": reason},
                address=address,
            )
            if moved:
                await self._promote_first_duplicate(conn, user, complaint_id)
        if not moved:
            raise ConflictError(f"complaint #{complaint_id} was decided meanwhile")
        return Decided(complaint_id, State.DISCARDED, None, current.suggested)

    async def _promote_first_duplicate(
        self, conn: AsyncConnection, user: User, discarded_id: int
    ) -> None:
        """The reports linked to a discarded complaint would otherwise never be filed: the
        earliest becomes the one a coordinator decides, and the others repeat it instead."""
        linked = list(
            await conn.scalars(
                select(complaints.c.id)
                .where(
                    complaints.c.duplicate_of_id == discarded_id,
                    complaints.c.state == State.DUPLICATE.value,
                )
                .order_by(complaints.c.id)
            )
        )
        if not linked:
            return
        first, rest = linked[0], linked[1:]
        check_transition(State.DUPLICATE, State.REVIEW)
        now = self.clock()
        await conn.execute(
            update(complaints)
            .where(complaints.c.id == first)
            .values(state=State.REVIEW.value, state_changed_at=now, duplicate_of_id=None)
        )
        await conn.execute(
            state_history.insert().values(
                complaint_id=first,
                from_state=State.DUPLICATE.value,
                to_state=State.REVIEW.value,
                at=now,
                actor=user.actor,
            )
        )
        if rest:
            await conn.execute(
                update(complaints).where(complaints.c.id.in_(rest)).values(duplicate_of_id=first)
            )
        await self._audit(
            conn,
            user.actor,
            "reopen",
            first,
            {"was_duplicate_of": discarded_id, "relinked": len(rest)},
            None,
        )
