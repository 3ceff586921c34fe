"""Alembic environment: online migrations over a connection handed in by `service.store.migrate`,
or over `sqlalchemy.url` for the alembic command line."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config
from sqlmodel import SQLModel

import service.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run_with(connection: Connection) -> None:
    # Batch mode turns ALTERs into copy-and-move on SQLite, which cannot alter most things.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        user_module_prefix="",  # render AutoString(...) bare; script.py.mako imports it
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_url() -> None:
    engine = async_engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    async with engine.connect() as connection:
        await connection.run_sync(run_with)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported")
given = config.attributes.get("connection")
if given is not None:
    run_with(given)
else:
    asyncio.run(run_from_url())
