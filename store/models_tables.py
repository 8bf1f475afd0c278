"""The classifier's model registry: every trained model's bytes and metadata, one active."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    text,
)

from muara.store.tables import UtcDateTime, metadata

classifier_models = Table(
    "classifier_models",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("trained_at", UtcDateTime),
    Column("source", Text),
    # The model's own metadata (labels, thresholds, evaluation figures), readable without it.
    Column("info", JSON, nullable=False),
    # The skops file itself: every replica loads the same bytes, no shared folder needed.
    Column("content", LargeBinary, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("active", Boolean, nullable=False, default=False),
    Column("activated_at", UtcDateTime),
    # The model that was active when this one was activated: where a rollback returns to.
    Column("previous_version", String(64)),
)
# At most one active model, enforced by the database even if two operators activate at once.
Index(
    "ix_classifier_models_one_active",
    classifier_models.c.active,
    unique=True,
    postgresql_where=text("active"),
    sqlite_where=text("active"),
)
