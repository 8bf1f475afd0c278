"""The duplicate index: lookup keys and fingerprints of recently routed complaints."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
)

from muara.store.tables import Id, metadata

# One row per (lookup key, complaint): a hashed reporter contact, a place, or a MinHash band.
# `at` is the complaint's received_at in Unix seconds, so a lookup is one range scan of the
# primary key per key, whatever the size of the store.
duplicate_keys = Table(
    "duplicate_keys",
    metadata,
    Column("key", BigInteger, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("complaint_id", Id, nullable=False),
    Column("kind", SmallInteger, nullable=False),
    PrimaryKeyConstraint("key", "at", "complaint_id"),
)
Index("ix_duplicate_keys_at", duplicate_keys.c.at)

# What a candidate is compared on. Terms are words of the complaint: personal data, like its text.
duplicate_fingerprints = Table(
    "duplicate_fingerprints",
    metadata,
    Column("complaint_id", Id, primary_key=True),
    Column("at", BigInteger, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("words", Integer, nullable=False),
    Column("terms", JSON, nullable=False),
    Column("concepts", JSON, nullable=False),
    Column("places", JSON, nullable=False),
    Column("agency", String(64)),
)
Index("ix_duplicate_fingerprints_at", duplicate_fingerprints.c.at)
