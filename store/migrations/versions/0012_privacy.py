"""anonymised complaints (retention, forget), index of complaints by state change

Revision ID: 0012
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import muara.store.tables

revision: str = "0012"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "anonymised_complaints",
        sa.Column("complaint_id", Id, nullable=False),
        sa.Column("at", muara.store.tables.UtcDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"],
            name=op.f("fk_anonymised_complaints_complaint_id_complaints"),
        ),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_anonymised_complaints")),
    )
    op.create_index(
        "ix_complaints_state_changed", "complaints", ["state", "state_changed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_complaints_state_changed", table_name="complaints")
    op.drop_table("anonymised_complaints")
