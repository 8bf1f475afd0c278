"""LAPOR! exporter: outbox evidence, filing tracking and SLA, status history, follow-ups, forwards

Revision ID: 0003
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import muara.store.tables

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Utc = muara.store.tables.UtcDateTime


def upgrade() -> None:
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("institution_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("attachment_ids", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("lookups", sa.Integer(), nullable=False, server_default="0")
        )

    op.create_table(
        "lapor_tracking",
        sa.Column("complaint_id", Id, nullable=False),
        sa.Column("lapor_id", sa.String(length=64), nullable=False),
        sa.Column("agency", sa.String(length=64), nullable=False),
        sa.Column("institution_id", sa.BigInteger(), nullable=False),
        sa.Column("classification", sa.String(length=32), nullable=False),
        sa.Column("filed_at", Utc(), nullable=False),
        sa.Column("forwarded_at", Utc(), nullable=True),
        sa.Column("first_response_at", Utc(), nullable=True),
        sa.Column("due_at", Utc(), nullable=False),
        sa.Column("status_code", sa.String(length=64), nullable=True),
        sa.Column("status_name", sa.String(length=128), nullable=True),
        sa.Column("last_synced_at", Utc(), nullable=True),
        sa.Column("next_sync_at", Utc(), nullable=False),
        sa.Column("sync_failures", sa.Integer(), nullable=False),
        sa.Column("closed_at", Utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"],
            name=op.f("fk_lapor_tracking_complaint_id_complaints"),
        ),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_lapor_tracking")),
    )
    op.create_index("ix_lapor_tracking_sync", "lapor_tracking", ["closed_at", "next_sync_at"])
    op.create_index("ix_lapor_tracking_due", "lapor_tracking", ["agency", "due_at"])

    op.create_table(
        "lapor_status_history",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("complaint_id", Id, nullable=False),
        sa.Column("lapor_id", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.String(length=64), nullable=False),
        sa.Column("status_name", sa.String(length=128), nullable=False),
        sa.Column("at", Utc(), nullable=False),
        sa.Column("seen_at", Utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"],
            name=op.f("fk_lapor_status_history_complaint_id_complaints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lapor_status_history")),
        sa.UniqueConstraint(
            "complaint_id", "status_code", "at",
            name=op.f("uq_lapor_status_history_complaint_id_status_code_at"),
        ),
    )

    op.create_table(
        "lapor_followups",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("complaint_id", Id, nullable=False),
        sa.Column("lapor_id", sa.String(length=64), nullable=False),
        sa.Column("followup_key", sa.String(length=128), nullable=False),
        sa.Column("created_at", Utc(), nullable=False),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("seen_at", Utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"],
            name=op.f("fk_lapor_followups_complaint_id_complaints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lapor_followups")),
        sa.UniqueConstraint(
            "complaint_id", "followup_key",
            name=op.f("uq_lapor_followups_complaint_id_followup_key"),
        ),
    )

    op.create_table(
        "lapor_forwards",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("complaint_id", Id, nullable=False),
        sa.Column("lapor_id", sa.String(length=64), nullable=False),
        sa.Column("from_institution_id", sa.BigInteger(), nullable=False),
        sa.Column("to_institution_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error_class", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("created_at", Utc(), nullable=False),
        sa.Column("updated_at", Utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"],
            name=op.f("fk_lapor_forwards_complaint_id_complaints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lapor_forwards")),
    )
    op.create_index("ix_lapor_forwards_complaint", "lapor_forwards", ["complaint_id"])


def downgrade() -> None:
    op.drop_index("ix_lapor_forwards_complaint", table_name="lapor_forwards")
    op.drop_table("lapor_forwards")
    op.drop_table("lapor_followups")
    op.drop_table("lapor_status_history")
    op.drop_index("ix_lapor_tracking_due", table_name="lapor_tracking")
    op.drop_index("ix_lapor_tracking_sync", table_name="lapor_tracking")
    op.drop_table("lapor_tracking")
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.drop_column("lookups")
        batch_op.drop_column("attachment_ids")
        batch_op.drop_column("evidence")
        batch_op.drop_column("institution_id")
