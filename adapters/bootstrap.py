"""The composition root: every long-lived part of fengkong, built from one `Settings`.

Entry points (CLI commands, the API app factory, benchmarks, tests) parse
their arguments into `Settings` and ask for what they run; nothing else
opens a store or picks a database. Readers get the port that says what they
read (the notification log, the outbox, the engine's tables), never the
event store's recorder.
"""

from __future__ import annotations

import os
from functools import partial
from typing import TYPE_CHECKING

from adapters.access.keys import Keys
from adapters.kafka.clock import ClockRelay, ClockSettings
from adapters.kafka.relay import CommandRelay, RelaySettings
from adapters.kafka.worker import Worker, WorkerSettings
from adapters.monitoring.status import ReviewWindow
from adapters.settings import Settings
from adapters.store.backends import engine_env, open_projection_database, open_recorder
from adapters.store.keys import KeyStore
from adapters.store.projection_store import SqlProjectionStore
from adapters.store.readers import EngineTables, StoredLog, StoredOutbox
from adapters.store.tables import ProjectionDatabase
from engine.application import RiskEngine
from engine.policy import load_policy
from projections.runner import ProjectionRunner

if TYPE_CHECKING:
    from fastapi import FastAPI


def open_engine(settings: Settings) -> RiskEngine:
    """The engine under the settings' policy, on the settings' store."""
    return RiskEngine(load_policy(settings.policy), env=engine_env(settings.store), cache_size=settings.cache_size)


def open_log(settings: Settings) -> StoredLog:
    return StoredLog(open_recorder(settings.store))


def open_tables(settings: Settings) -> ProjectionDatabase:
    """A connection to the projections' tables, for queries and exports."""
    return open_projection_database(settings.store)


def open_engine_tables(settings: Settings) -> EngineTables:
    return EngineTables(open_projection_database(settings.store))


def open_keys(settings: Settings) -> Keys:
    """The store's API keys (its table created if missing), on a connection of its own: close `.store.db`."""
    store = KeyStore(open_projection_database(settings.store))
    store.prepare()
    return Keys(store)


def review_window(settings: Settings) -> ReviewWindow:
    """Which open reviews count as near their deadline, on the policy's business-day calendar."""
    return ReviewWindow(settings.review_warning_days, load_policy(settings.policy).review.calendar)


def open_projection_store(settings: Settings) -> SqlProjectionStore:
    return SqlProjectionStore(partial(open_projection_database, settings.store))


def projection_runner(settings: Settings) -> ProjectionRunner:
    return ProjectionRunner(open_log(settings), open_projection_store(settings), page=settings.projection_page)


def worker(settings: Settings, engine: RiskEngine | None = None) -> Worker:
    """A member of the worker group: Kafka records into the engine, exactly once in effect."""
    worker_settings = WorkerSettings(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=settings.events_topic,
        dead_letter_topic=settings.dead_letter_topic,
        group_id=settings.worker_group,
        client_id=f"fengkong-worker-{os.getpid()}",
        max_poll_records=settings.batch_size,
        max_batch_bytes=settings.max_batch_bytes,
        timing=settings.timing,
        ack_timeout_s=settings.ack_timeout_s,
    )
    return Worker(engine or open_engine(settings), worker_settings)


def _relay_settings(settings: Settings) -> RelaySettings:
    return RelaySettings(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=settings.commands_topic,
        page=settings.relay_page,
        ack_timeout_s=settings.ack_timeout_s,
    )


def open_outbox(settings: Settings) -> StoredOutbox:
    """The outbox as the relay of the settings' commands topic reads it (with its recorded position)."""
    return StoredOutbox(open_recorder(settings.store), _relay_settings(settings).source)


def relay(settings: Settings) -> CommandRelay:
    """The command relay: the outbox to the commands topic, at least once, in order."""
    return CommandRelay(open_outbox(settings), _relay_settings(settings))


def clock_relay(settings: Settings) -> ClockRelay:
    clock_settings = ClockSettings(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        clock_topic=settings.clock_topic,
        events_topic=settings.events_topic,
        dead_letter_topic=settings.dead_letter_topic,
        group_id=settings.clock_group,
        timing=settings.timing,
    )
    return ClockRelay(clock_settings)


def api(settings: Settings) -> FastAPI:
    """The HTTP API over the projections' tables (it imports FastAPI: only those who serve pay for it)."""
    from adapters.http.api import create_app  # noqa: PLC0415

    return create_app(
        partial(open_tables, settings),
        partial(open_log, settings),
        review_window(settings),
        session_minutes=settings.session_minutes,
    )
