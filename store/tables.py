"""The store's tables (SQLAlchemy Core). Alembic migrations under `migrations/` create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")

raw_inputs = Table(
    "raw_inputs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("source_ref", String(512), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    # Set only on quarantine records: input that could not become a complaint.
    Column("quarantined_at", UtcDateTime),
    Column("error_class", String(64)),
    Column("error", Text),
    UniqueConstraint("channel", "source_ref"),
)
Index("ix_raw_inputs_quarantined", raw_inputs.c.quarantined_at)

complaints = Table(
    "complaints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(32), nullable=False),
    Column("source_id", String(255), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("ingested_at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("state_changed_at", UtcDateTime, nullable=False),
    # Stage-worker lease: who holds the row and until when (DESIGN.md invariant 3).
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UtcDateTime),
    # Not to be picked up again before this time (a retry wait).
    Column("not_before", UtcDateTime),
    # Held for an operator: the stage will not touch it until released.
    Column("held_reason", Text),
    Column("subject", Text),
    Column("text", Text, nullable=False),
    Column("reporter_name", Text),
    Column("reporter_contact", Text),
    Column("is_anonymous", Boolean, nullable=False, default=False),
    Column("is_secret", Boolean, nullable=False, default=False),
    Column("district", String(128)),
    Column("subdistrict", String(128)),
    Column("attachments", JSON, nullable=False, default=list),
    Column("extra", JSON, nullable=False, default=dict),
    Column("raw_input_id", Id, ForeignKey("raw_inputs.id")),
    Column("agency", String(64)),
    Column("duplicate_of_id", Id, ForeignKey("complaints.id")),
    Column("discard_reason", Text),
    Column("lapor_id", String(64)),
    UniqueConstraint("channel", "source_id"),
)
Index("ix_complaints_state_lease", complaints.c.state, complaints.c.lease_expires_at)
# A claim takes the oldest ids of a state: read in this order, it stops after its batch instead
# of sorting every complaint in the state (10 ms a claim with 30,000 waiting, 0.5 ms with it).
Index("ix_complaints_state_id", complaints.c.state, complaints.c.id)

state_history = Table(
    "state_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("complaint_id", Id, ForeignKey("complaints.id"), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
)
Index("ix_state_history_complaint", state_history.c.complaint_id)

suggestions = Table(
    "suggestions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("complaint_id", Id, ForeignKey("complaints.id"), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("top", JSON, nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
Index("ix_suggestions_complaint", suggestions.c.complaint_id)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("complaint_id", Id, ForeignKey("complaints.id"), nullable=False),
    Column("target_state", String(16), nullable=False),
    Column("agency", String(64)),
    Column("mode", String(16), nullable=False),
    Column("decided_by", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
Index("ix_decisions_complaint", decisions.c.complaint_id)

# The outbox: written before the call to a target, so a crash never files twice unknowingly.
exports = Table(
    "exports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("complaint_id", Id, ForeignKey("complaints.id"), nullable=False),
    Column("target", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error_class", String(64)),
    Column("last_error", Text),
    Column("next_attempt_at", UtcDateTime),
    Column("external_id", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Migration 0003 (the LAPOR! exporter): where it was filed, what an outcome-unknown
    # reconciliation found, the uploaded attachment ids, and how many lookups were tried.
    Column("institution_id", BigInteger),
    Column("evidence", JSON),
    Column("attachment_ids", JSON),
    Column("lookups", Integer, nullable=False, default=0, server_default="0"),
    UniqueConstraint("complaint_id", "target"),
)
Index("ix_exports_state", exports.c.state)

source_cursors = Table(
    "source_cursors",
    metadata,
    Column("source", String(128), primary_key=True),
    Column("cursor", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

agencies = Table(
    "agencies",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("lapor_institution_id", BigInteger),
    Column("updated_at", UtcDateTime, nullable=False),
)
