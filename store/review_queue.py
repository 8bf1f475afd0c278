"""What the review desk reads: the queue of complaints awaiting a coordinator, one complaint."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muara.domain import State
from muara.store.followups import Followups
from muara.store.records import Clock
from muara.store.review_accounts import User
from muara.store.review_tables import audit_log
from muara.store.tables import agencies, complaints, decisions, suggestions


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """Which part of the queue to show."""

    channel: str | None = None
    agency: str | None = None
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True, slots=True)
class SuggestionView:
    """The classifier's latest suggestion for a complaint."""

    agency: str
    confidence: float
    top: tuple[tuple[str, float], ...]
    model_version: str


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One line of the queue."""

    id: int
    channel: str
    received_at: datetime
    subject: str | None
    text: str
    district: str | None
    suggestion: SuggestionView | None
    duplicates: int = 0


@dataclass(frozen=True, slots=True)
class QueuePage:
    """A page of the queue, oldest first, and how many items the whole filtered queue has."""

    items: list[QueueItem]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the filtered queue has (at least one)."""
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, slots=True)
class LinkedComplaint:
    """A complaint linked as a duplicate (or the one this complaint duplicates)."""

    id: int
    channel: str
    received_at: datetime
    state: str
    text: str


@dataclass(frozen=True, slots=True)
class ComplaintView:
    """Everything the complaint page shows."""

    id: int
    channel: str
    source_id: str
    state: str
    received_at: datetime
    subject: str | None
    text: str
    reporter_name: str | None
    reporter_contact: str | None
    is_anonymous: bool
    is_secret: bool
    district: str | None
    subdistrict: str | None
    agency: str | None
    attachments: list[dict[str, Any]]
    discard_reason: str | None
    duplicate_of: LinkedComplaint | None
    suggestion: SuggestionView | None
    duplicates: list[LinkedComplaint] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def with_latest_suggestion() -> Any:
    """Complaints joined to their newest suggestion.

    The correlated max() is one probe of the (complaint_id, id) index per complaint (migration
    0007); without that index PostgreSQL scans every suggestion backwards for each complaint.
    """
    newest = suggestions.alias("newest")
    latest = (
        select(func.max(newest.c.id))
        .where(newest.c.complaint_id == complaints.c.id)
        .correlate(complaints)
        .scalar_subquery()
    )
    return complaints.outerjoin(
        suggestions, and_(suggestions.c.complaint_id == complaints.c.id, suggestions.c.id == latest)
    )


def _suggestion(row: Any) -> SuggestionView | None:
    if row["s_agency"] is None:
        return None
    return SuggestionView(
        agency=row["s_agency"],
        confidence=float(row["s_confidence"]),
        top=tuple((str(agency), float(p)) for agency, p in (row["s_top"] or [])[:3]),
        model_version=row["s_model_version"],
    )


_SUGGESTION_COLUMNS = (
    suggestions.c.agency.label("s_agency"),
    suggestions.c.confidence.label("s_confidence"),
    suggestions.c.top.label("s_top"),
    suggestions.c.model_version.label("s_model_version"),
)


def visible_to(user: User) -> ColumnElement[bool] | None:
    """The condition limiting a coordinator to their agencies' complaints (None: no limit)."""
    if user.agencies is None:
        return None
    allowed = sorted(user.agencies)
    # Waiting complaints belong to their suggested agency; decided ones to where they went.
    return or_(suggestions.c.agency.in_(allowed), complaints.c.agency.in_(allowed))


class ReviewQueue:
    """Reads for the review desk; every query is a bounded, indexed one."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self.followups = Followups(engine, clock=clock)

    def _base(self, user: User, channel: str | None, agency: str | None) -> Any:
        conditions: list[ColumnElement[bool]] = [complaints.c.state == State.REVIEW.value]
        if channel:
            conditions.append(complaints.c.channel == channel)
        if agency:
            conditions.append(suggestions.c.agency == agency)
        if (limit := visible_to(user)) is not None:
            conditions.append(limit)
        return and_(*conditions)

    def _joined(self, *columns: Any) -> Any:
        return select(*columns).select_from(with_latest_suggestion())

    async def page(self, user: User, wanted: QueueFilter) -> QueuePage:
        """One page of the REVIEW queue the user may see, earliest LAPOR! deadline first.

        The forwarding deadline (`review.context.forwarding_deadline`) is a non-decreasing
        function of the received time, so ordering by received time (then id) is ordering by
        deadline, then age, and stays an index scan: working days cannot be computed in SQL.
        """
        condition = self._base(user, wanted.channel, wanted.agency)
        offset = (max(1, wanted.page) - 1) * wanted.per_page
        async with self.engine.connect() as conn:
            total = await conn.scalar(self._joined(func.count()).where(condition))
            rows = (
                (
                    await conn.execute(
                        self._joined(
                            complaints.c.id,
                            complaints.c.channel,
                            complaints.c.received_at,
                            complaints.c.subject,
                            func.substr(complaints.c.text, 1, 400).label("text"),
                            complaints.c.district,
                            *_SUGGESTION_COLUMNS,
                        )
                        .where(condition)
                        .order_by(complaints.c.received_at, complaints.c.id)
                        .limit(wanted.per_page)
                        .offset(offset)
                    )
                )
                .mappings()
                .all()
            )
            counts = await self._duplicate_counts(conn, [int(row["id"]) for row in rows])
        items = [
            QueueItem(
                id=int(row["id"]),
                channel=row["channel"],
                received_at=row["received_at"],
                subject=row["subject"],
                text=row["text"],
                district=row["district"],
                suggestion=_suggestion(row),
                duplicates=counts.get(int(row["id"]), 0),
            )
            for row in rows
        ]
        return QueuePage(items, int(total or 0), max(1, wanted.page), wanted.per_page)

    async def _duplicate_counts(self, conn: AsyncConnection, ids: list[int]) -> dict[int, int]:
        if not ids:
            return {}
        rows = await conn.execute(
            select(complaints.c.duplicate_of_id, func.count())
            .where(complaints.c.duplicate_of_id.in_(ids))
            .group_by(complaints.c.duplicate_of_id)
        )
        return {int(of): int(count) for of, count in rows}

    async def next_id(self, user: User, after: int | None = None) -> int | None:
        """The oldest waiting complaint the user may decide, other than `after`."""
        condition = self._base(user, None, None)
        if after is not None:
            condition = and_(condition, complaints.c.id != after)
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                self._joined(complaints.c.id)
                .where(condition)
                .order_by(complaints.c.received_at, complaints.c.id)
                .limit(1)
            )
        return None if found is None else int(found)

    async def channels(self) -> list[str]:
        """The channels complaints come from, for the queue's filter."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(complaints.c.channel)
                .where(complaints.c.state == State.REVIEW.value)
                .group_by(complaints.c.channel)
                .order_by(complaints.c.channel)
            )
            return [channel for (channel,) in rows]

    async def agencies(self) -> dict[str, str]:
        """Agency codes and names Muara files to (the agencies table)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(agencies.c.code, agencies.c.name))
            return {code: name for code, name in rows}

    async def stats(self) -> tuple[int, datetime | None]:
        """How many complaints wait for review, and since when the oldest (for the metrics)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(func.count(), func.min(complaints.c.received_at)).where(
                        complaints.c.state == State.REVIEW.value
                    )
                )
            ).one()
        return int(row[0]), row[1]

    async def _history(self, conn: AsyncConnection, complaint_id: int) -> list[dict[str, Any]]:
        """Decisions on the complaint and what people did with it, oldest first."""
        decided = await conn.execute(
            select(
                decisions.c.created_at,
                decisions.c.decided_by,
                decisions.c.target_state,
                decisions.c.agency,
                decisions.c.reason,
            ).where(decisions.c.complaint_id == complaint_id)
        )
        entries = [
            {
                "at": at,
                "actor": actor,
                "action": f"decision: {target}",
                "detail": reason,
                "agency": agency,
            }
            for at, actor, target, agency, reason in decided
        ]
        audited = await conn.execute(
            select(audit_log.c.at, audit_log.c.actor, audit_log.c.action, audit_log.c.detail).where(
                audit_log.c.complaint_id == complaint_id
            )
        )
        entries += [
            {"at": at, "actor": actor, "action": action, "detail": "", "agency": None}
            for at, actor, action, _detail in audited
        ]
        return sorted(entries, key=lambda entry: entry["at"])

    async def complaint(self, complaint_id: int) -> tuple[ComplaintView, str | None] | None:
        """A complaint with what the page shows, and the agency it belongs to (for access)."""
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        self._joined(complaints, *_SUGGESTION_COLUMNS).where(
                            complaints.c.id == complaint_id
                        )
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            linked_columns = (
                complaints.c.id,
                complaints.c.channel,
                complaints.c.received_at,
                complaints.c.state,
                func.substr(complaints.c.text, 1, 200),
            )
            duplicates = [
                LinkedComplaint(int(i), channel, at, state, text)
                for i, channel, at, state, text in await conn.execute(
                    select(*linked_columns)
                    .where(complaints.c.duplicate_of_id == complaint_id)
                    .order_by(complaints.c.received_at, complaints.c.id)
                    .limit(200)
                )
            ]
            duplicate_of = None
            if row["duplicate_of_id"] is not None:
                of = (
                    await conn.execute(
                        select(*linked_columns).where(complaints.c.id == row["duplicate_of_id"])
                    )
                ).first()
                if of is not None:
                    duplicate_of = LinkedComplaint(int(of[0]), of[1], of[2], of[3], of[4])
            history = await self._history(conn, complaint_id)
        view = ComplaintView(
            id=int(row["id"]),
            channel=row["channel"],
            source_id=row["source_id"],
            state=row["state"],
            received_at=row["received_at"],
            subject=row["subject"],
            text=row["text"],
            reporter_name=row["reporter_name"],
            reporter_contact=row["reporter_contact"],
            is_anonymous=bool(row["is_anonymous"]),
            is_secret=bool(row["is_secret"]),
            district=row["district"],
            subdistrict=row["subdistrict"],
            agency=row["agency"],
            attachments=list(row["attachments"] or []),
            discard_reason=row["discard_reason"],
            duplicate_of=duplicate_of,
            suggestion=_suggestion(row),
            duplicates=duplicates,
            followups=await self.followups.messages(complaint_id),
            history=history,
        )
        owner = row["agency"] or row["s_agency"]
        return view, owner
