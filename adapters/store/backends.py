"""Which database a store URL names, and the store's parts opened on it.

The only place that chooses between the sibling subpackages `sqlite/` and
`postgres/`: everything else gets an event recorder or a projection database
and never asks which one. The PostgreSQL parts are imported only for a
PostgreSQL store: with them comes psycopg, which a SQLite store's commands
do not need (adapters.store.availability).
"""

from __future__ import annotations

from typing import cast
from urllib.parse import unquote, urlparse

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment, get_topic

from adapters.store.readers import StoreRecorder
from adapters.store.sqlite.events import SQLiteEngineRecorder
from adapters.store.sqlite.file import create_store_file
from adapters.store.sqlite.projections import SQLiteProjectionDatabase
from adapters.store.tables import ProjectionDatabase
from adapters.store.urls import is_postgres, postgres_options, sqlite_path
from engine.application import APPLICATION_NAME


def overlaps_commits(url: str) -> bool:
    """Whether an ingest into this store decides the next batch while the last one commits (engine.overlap).

    On PostgreSQL a commit waits on the server; on SQLite it is CPU in the engine's own process, and
    overlapping it gained nothing (docs/scale.md, "The next batch decided while the last one commits").
    """
    return is_postgres(url)


def engine_env(url: str) -> dict[str, str]:
    """The eventsourcing environment for a store URL (a path means SQLite)."""
    if not is_postgres(url):
        path = sqlite_path(url)
        create_store_file(path)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": get_topic(SQLiteEngineRecorder),
            "ORIGINATOR_ID_TYPE": "text",
        }
    from adapters.store.postgres.events import PostgresEngineRecorder  # noqa: PLC0415

    parts = urlparse(url)
    options = postgres_options(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": options.get("connect_timeout", "10"),
        "POSTGRES_POOL_SIZE": options.get("pool_size", "4"),
        "APPLICATION_RECORDER_TOPIC": get_topic(PostgresEngineRecorder),
        "ORIGINATOR_ID_TYPE": "text",
    }
    if "schema" in options:
        env["POSTGRES_SCHEMA"] = options["schema"]
    return env


def open_recorder(url: str) -> StoreRecorder:
    """The event store's recorder alone, for readers that need no engine (relay, projections, reconcile)."""
    factory = InfrastructureFactory.construct(Environment(APPLICATION_NAME, engine_env(url)))
    return cast(StoreRecorder, factory.application_recorder())


def open_projection_database(url: str) -> ProjectionDatabase:
    """A connection for the projections' tables, in the store's own database."""
    if not is_postgres(url):
        return SQLiteProjectionDatabase(url)
    from adapters.store.postgres.projections import PostgresProjectionDatabase  # noqa: PLC0415

    return PostgresProjectionDatabase(url)
