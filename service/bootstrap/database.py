"""The database: the SQLAlchemy engine and sessions (the admin API, the upload cache, budgets,
tenants) and the hot paths' driver, and the outbox relay on it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from service.bootstrap.kafka import kafka_producer
from service.config import Settings
from service.kafka.relay import OutboxRelay
from service.store.db import create_engine, session_factory
from service.store.driver import Database, open_database
from service.store.outbox import Marks, SqlOutbox

# Any non-empty key passes the simulator when it runs without --api-key.


def build_engine(settings: Settings) -> AsyncEngine:
    return create_engine(settings.database_url)


def build_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


def build_database(settings: Settings, *, max_connections: int = 10) -> Database:
    """The hot paths' driver (service.store.driver) on the same database as the engine; a
    process that only relays (the API) needs few PostgreSQL connections."""
    return open_database(settings.database_url, max_connections=max_connections)


def outbox_relay(settings: Settings, db: Database, *, marks: Marks | None = None) -> OutboxRelay:
    claim = timedelta(seconds=settings.outbox_claim_seconds)
    outbox = SqlOutbox(db, claim=claim, marks=marks)
    return OutboxRelay(outbox, lambda: kafka_producer(settings))
