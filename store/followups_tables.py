"""Messages that continue an existing complaint (an e-mail reply, a tweet in the same thread)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text, UniqueConstraint

from muara.store.tables import Id, UtcDateTime, metadata

complaint_messages = Table(
    "complaint_messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("complaint_id", Id, ForeignKey("complaints.id"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("source_id", String(255), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("text", Text, nullable=False),
    Column("raw_input_id", Id, ForeignKey("raw_inputs.id")),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("channel", "source_id"),
)
Index("ix_complaint_messages_complaint", complaint_messages.c.complaint_id)
