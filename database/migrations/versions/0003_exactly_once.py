"""Exactly-once: consumer offsets in PostgreSQL, and the sales aggregates they keep exact.

Revision ID: 0003
Revises: 0001 (re-chain to 0002 when issue 12's verify-state migration is merged)
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consumer_offsets",
        sa.Column("group_id", sa.String(255), primary_key=True),
        sa.Column("topic", sa.String(255), primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "product_minute_sales",
        sa.Column("product_id", sa.Uuid(), primary_key=True),
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("revenue", sa.Numeric(18, 2), nullable=False),
    )
    op.create_table(
        "customer_sales",
        sa.Column("user_id", sa.Uuid(), primary_key=True),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("spend", sa.Numeric(18, 2), nullable=False),
        sa.Column("last_order_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("customer_sales")
    op.drop_table("product_minute_sales")
    op.drop_table("consumer_offsets")
