"""Which complaints had their personal data removed, when and why (retention, `muara forget`)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table

from muara.store.tables import Id, UtcDateTime, complaints, metadata

# One row per anonymised complaint; the retention job skips these, so a run is idempotent.
# The audit trail (who, what counts) is in audit_log (store/review_tables.py).
anonymised_complaints = Table(
    "anonymised_complaints",
    metadata,
    Column("complaint_id", Id, ForeignKey("complaints.id"), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    # "retention" or "forget".
    Column("reason", String(16), nullable=False),
)

# The retention job reads final complaints by how long ago they got there.
Index("ix_complaints_state_changed", complaints.c.state, complaints.c.state_changed_at)
