"""follow-up messages of a complaint

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import muara.store.tables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "complaint_messages",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("complaint_id", Id, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", muara.store.tables.UtcDateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("raw_input_id", Id, nullable=True),
        sa.Column("created_at", muara.store.tables.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"],
            name=op.f("fk_complaint_messages_complaint_id_complaints"),
        ),
        sa.ForeignKeyConstraint(
            ["raw_input_id"], ["raw_inputs.id"],
            name=op.f("fk_complaint_messages_raw_input_id_raw_inputs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_messages")),
        sa.UniqueConstraint(
            "channel", "source_id", name=op.f("uq_complaint_messages_channel_source_id")
        ),
    )
    op.create_index(
        "ix_complaint_messages_complaint", "complaint_messages", ["complaint_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_messages_complaint", table_name="complaint_messages")
    op.drop_table("complaint_messages")
