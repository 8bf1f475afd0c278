"""Tables of the LAPOR! exporter: what was filed where, its status history, follow-ups, forwards."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from muara.store.tables import Id, UtcDateTime, metadata

# One row per filed complaint: LAPOR!'s id, the SLA clock and when to read its status next.
lapor_tracking = Table(
    "lapor_tracking",
    metadata,
    Column("complaint_id", Id, ForeignKey("complaints.id"), primary_key=True),
    Column("lapor_id", String(64), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("institution_id", BigInteger, nullable=False),
    Column("classification", String(32), nullable=False),
    Column("filed_at", UtcDateTime, nullable=False),
    # When LAPOR! was seen to verify and forward it; the agency's clock then restarts.
    Column("forwarded_at", UtcDateTime),
    # The agency's first follow-up stops the clock.
    Column("first_response_at", UtcDateTime),
    Column("due_at", UtcDateTime, nullable=False),
    Column("status_code", String(64)),
    Column("status_name", String(128)),
    Column("last_synced_at", UtcDateTime),
    Column("next_sync_at", UtcDateTime, nullable=False),
    Column("sync_failures", Integer, nullable=False, default=0),
    Column("closed_at", UtcDateTime),
)
Index("ix_lapor_tracking_sync", lapor_tracking.c.closed_at, lapor_tracking.c.next_sync_at)
Index("ix_lapor_tracking_due", lapor_tracking.c.agency, lapor_tracking.c.due_at)

lapor_status_history = Table(
    "lapor_status_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("complaint_id", Id, ForeignKey("complaints.id"), nullable=False),
    Column("lapor_id", String(64), nullable=False),
    Column("status_code", String(64), nullable=False),
    Column("status_name", String(128), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
    UniqueConstraint("complaint_id", "status_code", "at"),
)

lapor_followups = Table(
    "lapor_followups",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("complaint_id", Id, ForeignKey("complaints.id"), nullable=False),
    Column("lapor_id", String(64), nullable=False),
    # LAPOR!'s id of the follow-up, or a digest of it when LAPOR! gives none.
    Column("followup_key", String(128), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("author", Text),
    Column("content", Text, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
    UniqueConstraint("complaint_id", "followup_key"),
)

# A coordinator's re-routing of a filed complaint: LAPOR!'s forward call, written before the call.
lapor_forwards = Table(
    "lapor_forwards",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("complaint_id", Id, ForeignKey("complaints.id"), nullable=False),
    Column("lapor_id", String(64), nullable=False),
    Column("from_institution_id", BigInteger, nullable=False),
    Column("to_institution_id", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error_class", String(64)),
    Column("last_error", Text),
    Column("evidence", JSON),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("ix_lapor_forwards_complaint", lapor_forwards.c.complaint_id)
