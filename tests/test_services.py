"""The test servers are real: messages and rows travel over real connections and survive restarts.

The fixtures come from the `tests.support.fixtures` plugin (pyproject's addopts
loads it; `-p tests.support.fixtures` does the same by hand).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from services.throwaway import ExternalKafka, ExternalPostgres, KafkaBroker, PostgresServer

Broker = KafkaBroker | ExternalKafka
Postgres = PostgresServer | ExternalPostgres


def produce(bootstrap_servers: str, topic: str, *values: bytes) -> None:
    """Send values (key = value) and wait for every ack, so they are on the broker."""
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers)
    try:
        for value in values:
            producer.send(topic, key=value, value=value).get(timeout=30)
    finally:
        producer.close()


def consume(bootstrap_servers: str, topic: str, group_id: str, count: int, timeout_s: float = 60.0) -> list[bytes]:
    """Read `count` messages from the start as consumer group `group_id`, then commit."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while len(values) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(record.value for record in records)
        consumer.commit()
        return values
    finally:
        consumer.close()


def committed(bootstrap_servers: str, topic: str, group_id: str) -> int | None:
    """The group's committed offset for partition 0, as stored in __consumer_offsets."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group_id, enable_auto_commit=False)
    try:
        offset: int | None = consumer.committed(TopicPartition(topic, 0))
        return offset
    finally:
        consumer.close()


@pytest.mark.kafka
def test_kafka_produce_and_consume_in_a_group(kafka_broker: Broker, new_topic: Callable[..., str]) -> None:
    topic = new_topic(partitions=1)
    group = f"g-{uuid.uuid4().hex[:8]}"

    produce(kafka_broker.bootstrap_servers, topic, b"hello", b"world")

    assert consume(kafka_broker.bootstrap_servers, topic, group, 2) == [b"hello", b"world"]
    assert committed(kafka_broker.bootstrap_servers, topic, group) == 2


@pytest.mark.kafka
def test_kafka_data_and_offsets_survive_restart(kafka_broker: Broker, new_topic: Callable[..., str]) -> None:
    topic = new_topic(partitions=1)
    group = f"g-{uuid.uuid4().hex[:8]}"
    produce(kafka_broker.bootstrap_servers, topic, b"before-restart")
    assert consume(kafka_broker.bootstrap_servers, topic, group, 1) == [b"before-restart"]
    servers = kafka_broker.bootstrap_servers

    kafka_broker.restart()

    assert kafka_broker.bootstrap_servers == servers
    assert consume(servers, topic, f"fresh-{group}", 1) == [b"before-restart"]
    assert committed(servers, topic, group) == 1


@pytest.mark.kafka
def test_kafka_recovers_after_kill(kafka_broker: Broker, new_topic: Callable[..., str]) -> None:
    topic = new_topic(partitions=1)
    produce(kafka_broker.bootstrap_servers, topic, b"acked-before-crash")

    kafka_broker.kill()
    kafka_broker.start()

    group = f"g-{uuid.uuid4().hex[:8]}"
    assert consume(kafka_broker.bootstrap_servers, topic, group, 1) == [b"acked-before-crash"]


@pytest.mark.postgres
def test_postgres_row_survives_restart_and_kill(postgres_server: Postgres, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO t VALUES (1, 'kept')")

    postgres_server.restart()
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT note FROM t WHERE id = 1").fetchone() == ("kept",)
        conn.execute("INSERT INTO t VALUES (2, 'after crash')")

    postgres_server.kill()
    postgres_server.start()
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)


@pytest.mark.postgres
def test_postgres_url_gives_each_test_its_own_database(postgres_server: Postgres, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT current_database(), count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert row is not None
    assert row[0].startswith("test_") and row[1] == 0
    assert postgres_server.url.endswith("/postgres")
