"""Tables of the review desk: coordinators' accounts, their sessions and the audit log."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from muara.store.tables import Id, UtcDateTime, complaints, metadata, suggestions

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    # argon2id, in the PHC string format (parameters and salt travel with the hash).
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    # The agencies a coordinator may decide for; NULL: every agency.
    Column("agencies", JSON),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("password_changed_at", UtcDateTime, nullable=False),
    UniqueConstraint("username"),
)

# Server-side sessions. The cookie carries a random token; only its SHA-256 is stored, so a copy
# of the store does not hand out live sessions.
review_sessions = Table(
    "review_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
)
Index("ix_review_sessions_user", review_sessions.c.user_id)

# Every action a person takes at the desk, including looking at a reporter's identity.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("complaint_id", Id, ForeignKey("complaints.id")),
    Column("detail", JSON, nullable=False),
    Column("address", String(64)),
)
Index("ix_audit_log_at", audit_log.c.at)
Index("ix_audit_log_complaint", audit_log.c.complaint_id)

# The review queue reads REVIEW complaints oldest first; a complaint page lists its duplicates.
Index("ix_complaints_state_received", complaints.c.state, complaints.c.received_at)
Index("ix_complaints_duplicate_of", complaints.c.duplicate_of_id)
# A complaint's newest suggestion is one probe of this index (store/review_queue.py).
Index("ix_suggestions_complaint_newest", suggestions.c.complaint_id, suggestions.c.id)
