"""Proves the infrastructure fixtures give a real Kafka broker and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from devstack import kafka as devkafka
from devstack import postgres as devpg


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- pure helpers (no infrastructure) ---------------------------------------------------------


def test_server_properties_single_node_kraft() -> None:
    props = devkafka.parse_properties(
        devkafka.render_server_properties(9001, 9002, Path("/tmp/x/data"))
    )
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9001,CONTROLLER://127.0.0.1:9002"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9002"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["log.dirs"] == "/tmp/x/data"


def test_cluster_id_is_a_kafka_uuid() -> None:
    cluster_id = devkafka.new_cluster_id()
    assert len(cluster_id) == 22
    assert "=" not in cluster_id


def test_free_port_honours_exclusions() -> None:
    first = devkafka.free_port()
    assert devkafka.free_port(exclude=[first]) != first


def test_postgres_urls() -> None:
    assert devpg.database_url(5433) == "postgresql+asyncpg://postgres@127.0.0.1:5433/zai_l10n"
    assert devpg.as_async_url("postgres://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert devpg.as_async_url("postgresql+psycopg2://h/db") == "postgresql+asyncpg://h/db"
    assert devpg.as_async_url("sqlite+aiosqlite:///x.db") is None


def test_pick_bindir_prefers_newest_complete(tmp_path: Path) -> None:
    for major, tools in (("14", ("initdb", "pg_ctl")), ("16", ("initdb", "pg_ctl")), ("17", ())):
        bindir = tmp_path / major / "bin"
        bindir.mkdir(parents=True)
        for tool in tools:
            (bindir / tool).touch()
    assert devpg.pick_bindir([tmp_path / m / "bin" for m in ("14", "16", "17")]) == (
        tmp_path / "16" / "bin"
    )


# --- Kafka -------------------------------------------------------------------------------------


@pytest.mark.kafka
async def test_kafka_round_trip(kafka_bootstrap_servers: str) -> None:
    topic = _unique("devstack-roundtrip")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"k1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap_servers,
        group_id=_unique("devstack-group"),
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (record.key, record.value) == (b"k1", b"hello")


@pytest.mark.kafka
async def test_kafka_admin_creates_partitioned_topic(kafka_bootstrap_servers: str) -> None:
    topic = _unique("devstack-partitions")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        # The broker's metadata cache learns of a new topic a moment after the controller
        # created it; on a busy broker that moment can outlast one round trip.
        async with asyncio.timeout(30):
            while topic not in await admin.list_topics():  # noqa: ASYNC110 (polling the broker)
                await asyncio.sleep(0.1)
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        assert await producer.partitions_for(topic) == {0, 1, 2}
    finally:
        await producer.stop()


# --- PostgreSQL --------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_postgres_version_and_table(database_url: str) -> None:
    engine = create_async_engine(database_url)
    table = _unique("devstack").replace("-", "_")
    try:
        async with engine.begin() as conn:
            version = (await conn.execute(text("select version()"))).scalar_one()
            assert "PostgreSQL" in version
            await conn.execute(text(f"create table {table} (id serial primary key, body text)"))
            await conn.execute(text(f"insert into {table} (body) values ('a'), ('b')"))
            rows = (await conn.execute(text(f"select body from {table} order by id"))).all()
            assert [row.body for row in rows] == ["a", "b"]
            await conn.execute(text(f"drop table {table}"))
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgres_pause_and_resume_keep_data_and_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)  # a private cluster, never a shared one
    pg = devpg.start_postgres()
    try:
        engine = create_async_engine(pg.url, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.execute(text("create table kept (body text)"))
            await conn.execute(text("insert into kept values ('a')"))
        pg.pause()
        with pytest.raises(OSError):  # nothing listens on the port while paused
            async with engine.connect() as conn:
                await conn.execute(text("select 1"))
        pg.resume()
        async with engine.connect() as conn:
            assert (await conn.execute(text("select body from kept"))).scalar_one() == "a"
        await engine.dispose()
    finally:
        pg.stop()
    assert not pg.data_dir.exists()
