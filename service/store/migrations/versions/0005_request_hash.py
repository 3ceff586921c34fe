"""request hash: the content hash of a job's request, to tell duplicates from conflicts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 09:00:00.000000

Existing jobs keep NULL: their hash is not recomputed here (that needs the service's model),
so a request_id of theirs sent again counts as a duplicate, as before; they age out with
RETENTION_JOBS_DAYS.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_hash", AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("request_hash")
