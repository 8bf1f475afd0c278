"""classifier model registry

Revision ID: 0006
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import muara.store.tables

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Utc = muara.store.tables.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "classifier_models",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("created_at", Utc(), nullable=False),
        sa.Column("trained_at", Utc(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("info", sa.JSON(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("activated_at", Utc(), nullable=True),
        sa.Column("previous_version", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_classifier_models")),
    )
    op.create_index(
        "ix_classifier_models_one_active",
        "classifier_models",
        ["active"],
        unique=True,
        postgresql_where=sa.text("active"),
        sqlite_where=sa.text("active"),
    )


def downgrade() -> None:
    op.drop_index("ix_classifier_models_one_active", table_name="classifier_models")
    op.drop_table("classifier_models")
