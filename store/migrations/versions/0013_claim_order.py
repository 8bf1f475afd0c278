"""index of complaints by state in id order, for the stage workers' claims

Revision ID: 0013
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_complaints_state_id", "complaints", ["state", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_complaints_state_id", table_name="complaints")
