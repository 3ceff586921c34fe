"""usage ledger, monthly token budgets and their reservations

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from service.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COUNTERS = (
    "translations",
    "upstream_calls",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "source_chars",
    "memory_hits",
    "packed_calls_saved",
    "estimated_tokens",
    "character_estimates",
)


def upgrade() -> None:
    op.create_table(
        "usage_ledger",
        sa.Column("tenant_id", AutoString(length=100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source_lang", AutoString(length=16), nullable=False),
        sa.Column("target_lang", AutoString(length=16), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _COUNTERS),
        sa.PrimaryKeyConstraint("tenant_id", "day", "source_lang", "target_lang"),
    )
    op.create_table(
        "tenant_budget",
        sa.Column("tenant_id", AutoString(length=100), nullable=False),
        sa.Column("monthly_tokens", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    op.create_table(
        "budget_reservation",
        sa.Column("job_id", AutoString(length=36), nullable=False),
        sa.Column("tenant_id", AutoString(length=100), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("per_language", sa.BigInteger(), nullable=False),
        sa.Column("method", AutoString(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index(
        op.f("ix_budget_reservation_tenant_id"), "budget_reservation", ["tenant_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_budget_reservation_tenant_id"), table_name="budget_reservation")
    op.drop_table("budget_reservation")
    op.drop_table("tenant_budget")
    op.drop_table("usage_ledger")
