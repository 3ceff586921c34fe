"""signing secrets: tenants that require signed requests, with their secret encrypted

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from service.store.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_signing_secret",
        sa.Column("tenant_id", AutoString(length=100), nullable=False),
        sa.Column("ciphertext", AutoString(), nullable=False),
        sa.Column("previous_ciphertext", AutoString(), nullable=True),
        sa.Column("previous_valid_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id"),
    )


def downgrade() -> None:
    op.drop_table("tenant_signing_secret")
