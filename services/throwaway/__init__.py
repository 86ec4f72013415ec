"""Real Apache Kafka (KRaft) and PostgreSQL server processes for the tests and the benchmarks.

The engine is event-sourced on Kafka and PostgreSQL, and mocks would hide the
behaviours we care about (rebalances, restarts, durability), so tests run
against real servers started as plain child processes: no Docker needed.
Besides the standard library it needs only the project's own clients:
kafka-python (readiness probe) and psycopg (database helpers).
"""

from services.throwaway.common import REPO_ROOT, ServiceError, free_ports, keep_services, log_tail, port_open
from services.throwaway.external import ExternalKafka, ExternalPostgres, ExternalService
from services.throwaway.kafka import KafkaBroker, admin_client, kafka_libs, new_kafka_uuid
from services.throwaway.postgres import PostgresServer, create_database, database_url, drop_database

__all__ = [
    "REPO_ROOT",
    "ExternalKafka",
    "ExternalPostgres",
    "ExternalService",
    "KafkaBroker",
    "PostgresServer",
    "ServiceError",
    "admin_client",
    "create_database",
    "database_url",
    "drop_database",
    "free_ports",
    "kafka_libs",
    "keep_services",
    "log_tail",
    "new_kafka_uuid",
    "port_open",
]
