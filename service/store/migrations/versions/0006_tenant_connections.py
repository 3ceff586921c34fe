"""tenant connections: the service's key, the tenant's own key, or a Truto integrated account

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from service.store.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_connection",
        sa.Column("tenant_id", AutoString(length=100), nullable=False),
        sa.Column("kind", AutoString(length=16), nullable=False),
        sa.Column("integrated_account_id", AutoString(length=200), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id"),
    )


def downgrade() -> None:
    op.drop_table("tenant_connection")
