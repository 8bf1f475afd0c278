"""review desk (users, sessions, audit log), queue indexes, duplicate index

Revision ID: 0007
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import muara.store.tables

revision: str = "0007"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Utc = muara.store.tables.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("agencies", sa.JSON(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", Utc(), nullable=True),
        sa.Column("created_at", Utc(), nullable=False),
        sa.Column("password_changed_at", Utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "review_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", Utc(), nullable=False),
        sa.Column("expires_at", Utc(), nullable=False),
        sa.Column("last_seen_at", Utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_review_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_sessions")),
    )
    op.create_index("ix_review_sessions_user", "review_sessions", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("at", Utc(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("complaint_id", Id, nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"], name=op.f("fk_audit_log_complaint_id_complaints")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_complaint", "audit_log", ["complaint_id"])
    op.create_index("ix_complaints_state_received", "complaints", ["state", "received_at"])
    op.create_index("ix_complaints_duplicate_of", "complaints", ["duplicate_of_id"])
    op.create_index("ix_suggestions_complaint_newest", "suggestions", ["complaint_id", "id"])
    op.create_table(
        "duplicate_keys",
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("complaint_id", Id, nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", "at", "complaint_id", name=op.f("pk_duplicate_keys")),
    )
    op.create_index("ix_duplicate_keys_at", "duplicate_keys", ["at"])
    op.create_table(
        "duplicate_fingerprints",
        sa.Column("complaint_id", Id, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("words", sa.Integer(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("concepts", sa.JSON(), nullable=False),
        sa.Column("places", sa.JSON(), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_duplicate_fingerprints")),
    )
    op.create_index("ix_duplicate_fingerprints_at", "duplicate_fingerprints", ["at"])


def downgrade() -> None:
    op.drop_index("ix_duplicate_fingerprints_at", table_name="duplicate_fingerprints")
    op.drop_table("duplicate_fingerprints")
    op.drop_index("ix_duplicate_keys_at", table_name="duplicate_keys")
    op.drop_table("duplicate_keys")
    op.drop_index("ix_suggestions_complaint_newest", table_name="suggestions")
    op.drop_index("ix_complaints_duplicate_of", table_name="complaints")
    op.drop_index("ix_complaints_state_received", table_name="complaints")
    op.drop_index("ix_audit_log_complaint", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_review_sessions_user", table_name="review_sessions")
    op.drop_table("review_sessions")
    op.drop_table("users")
