"""verify's reconciliation state: positions read, entities, dead-letter positions, folds, results.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verify_positions",
        sa.Column("reader", sa.String(200), primary_key=True),
        sa.Column("topic", sa.String(249), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "verify_entities",
        sa.Column("source", sa.String(249), primary_key=True),
        sa.Column("entity_id", sa.Uuid(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.Uuid(), nullable=False),
    )
    op.create_table(
        "verify_dead_letters",
        sa.Column("source", sa.String(249), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("offset", sa.BigInteger(), primary_key=True),
        sa.Column("invalid", sa.Boolean(), nullable=False),
        sa.Column("dead_letters", sa.Integer(), nullable=False),
    )
    op.create_table(
        "verify_folds",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("state", JSONB(), nullable=False),
    )
    op.create_table(
        "verify_results",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("took_s", sa.Float(), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=False),
        sa.Column("report", JSONB(), nullable=False),
    )


def downgrade() -> None:
    for name in ("verify_results", "verify_folds", "verify_dead_letters", "verify_entities", "verify_positions"):
        op.drop_table(name)
