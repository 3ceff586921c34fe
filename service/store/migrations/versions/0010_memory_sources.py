"""memory sources: a memory entry keeps its source text, pair and glossary version (search)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: entries stored before this have only their hash key and translation.
    with op.batch_alter_table("translation_memory", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_text", AutoString(), nullable=True))
        batch_op.add_column(sa.Column("source_lang", AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column("target_lang", AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column("glossary_id", AutoString(length=36), nullable=True))
        batch_op.add_column(sa.Column("glossary_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("translation_memory", schema=None) as batch_op:
        for name in (
            "glossary_version",
            "glossary_id",
            "target_lang",
            "source_lang",
            "source_text",
        ):
            batch_op.drop_column(name)
