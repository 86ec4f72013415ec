"""The composition root: every long-lived part of fengkong, built from one `Settings`.

Entry points (CLI commands, the API app factory, benchmarks, tests) parse
their arguments into `Settings` and ask for what they run; nothing else
opens a store or picks a database. Readers get the port that says what they
read (the notification log, the outbox, the engine's tables), never the
event store's recorder.

The Kafka client is imported by the functions that build Kafka's parts (as
FastAPI is by `api`): every other command starts without it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.access.keys import Keys
from adapters.monitoring.status import ReviewWindow
from adapters.operators.service import Operators
from adapters.privacy.keyring import ForgetList, KeyRing, KeyRings
from adapters.privacy.master import master_keys
from adapters.privacy.reveal import Revealer
from adapters.privacy.sealer import Sealer
from adapters.settings import Settings
from adapters.store.availability import is_unavailable
from adapters.store.backends import engine_env, open_projection_database, open_recorder
from adapters.store.documents import RecordedDocuments
from adapters.store.keys import KeyStore
from adapters.store.projection_store import SqlProjectionStore
from adapters.store.readers import EngineTables, PrivacyRecords, StoredLog, StoredOutbox
from adapters.store.tables import ProjectionDatabase
from adapters.store.urls import is_postgres, sqlite_path
from engine.application import RiskEngine
from engine.governance import Requested
from engine.policy import BrakeRule, load_policy, policy_text
from projections.registry import BY_NAME, PROJECTIONS
from projections.runner import ProjectionRunner

if TYPE_CHECKING:
    from fastapi import FastAPI

    from adapters.kafka.clock import ClockRelay
    from adapters.kafka.relay import CommandRelay, RelaySettings
    from adapters.kafka.worker import Worker


def open_engine(settings: Settings, user: str = "ingest", cache_size: int | None = None) -> RiskEngine:
    """The engine on the settings' store, deciding under the settings' policy if one is given, else the store's,
    sealing personal data with the store's keys.

    Raises FileNotFoundError for a policy file that is not there, ValueError for one that does not validate;
    whether the store lets that policy decide is checked before the first batch (`check_policy`). The key
    ring is opened when a batch first holds personal data: reading and auditing need no key.
    """
    return RiskEngine(
        requested_policy(settings),
        Sealer(partial(open_key_ring, settings)),
        env=engine_env(settings.store),
        cache_size=settings.cache_size if cache_size is None else cache_size,
        user=user,
    )


def requested_policy(settings: Settings) -> Requested | None:
    """The policy the settings name (None: the store's active one)."""
    return None if settings.policy is None else Requested.of(policy_text(settings.policy))


def forget_list_path(settings: Settings) -> Path | None:
    """The forget list: as configured, else beside a SQLite store or a master key file.

    None on PostgreSQL with neither: a list in the working directory would be one no other process reads,
    so forgetting is refused there until FENGKONG_FORGET_LIST names a durable file (docs/privacy.md).
    """
    if settings.forget_list:
        return Path(settings.forget_list)
    if not is_postgres(settings.store):
        path = sqlite_path(settings.store)
        return path.with_name(f"{path.stem}.forgotten")
    if settings.master_key_file:
        return Path(settings.master_key_file).with_suffix(".forgotten")
    return None


def key_rings(settings: Settings) -> KeyRings:
    """The configuration of personal data's keys: master keys (read when first needed) and the forget list."""
    masters = partial(
        master_keys,
        settings.store,
        settings.master_key.get_secret_value() if settings.master_key else None,
        settings.master_key_previous.get_secret_value() if settings.master_key_previous else None,
        settings.master_key_file,
    )
    return KeyRings(masters, ForgetList(forget_list_path(settings)))


def open_key_ring(settings: Settings) -> KeyRing:
    """Customers' data keys in the store, on a connection of its own (forgotten ones deleted again)."""
    return key_rings(settings).open(open_projection_database(settings.store))


def privacy_records(settings: Settings) -> PrivacyRecords:
    return PrivacyRecords(open_recorder(settings.store))


def revealer(settings: Settings) -> Revealer:
    """What shows personal data to a person: sealed values opened, forgotten ones named so (close it)."""
    return Revealer(partial(open_key_ring, settings), owned=True)


def open_log(settings: Settings) -> StoredLog:
    return StoredLog(open_recorder(settings.store))


def open_tables(settings: Settings) -> ProjectionDatabase:
    """A connection to the projections' tables, for queries and exports."""
    return open_projection_database(settings.store)


def open_documents(settings: Settings) -> RecordedDocuments:
    """The store's recorded policies and calendars, without an engine (the API, status)."""
    return RecordedDocuments(open_recorder(settings.store))


def open_engine_tables(settings: Settings) -> EngineTables:
    return EngineTables(open_projection_database(settings.store))


def open_keys(settings: Settings) -> Keys:
    """The store's API keys (its table created if missing), on a connection of its own: close `.store.db`."""
    store = KeyStore(open_projection_database(settings.store))
    store.prepare()
    return Keys(store)


def operators(settings: Settings) -> Operators:
    """Operators' actions through an engine that caches nothing between them (close `.engine` and `.tables.db`)."""
    engine = open_engine(settings, user="operator", cache_size=1)
    return Operators(engine, open_engine_tables(settings))


def review_window(settings: Settings) -> ReviewWindow:
    """Which open reviews count as near their deadline (on the store's active calendar), and the brake's window."""
    window = (
        BrakeRule().window_minutes if settings.policy is None else load_policy(settings.policy).brake.window_minutes
    )
    return ReviewWindow(settings.review_warning_days, brake_minutes=window)


def open_projection_store(settings: Settings) -> SqlProjectionStore:
    return SqlProjectionStore(partial(open_projection_database, settings.store))


def projection_runner(settings: Settings, names: Sequence[str] | None = None) -> ProjectionRunner:
    """The runner of the named projections (all by default) over the store's log and tables."""
    chosen = PROJECTIONS if names is None else tuple(BY_NAME[name] for name in names)
    return ProjectionRunner(
        open_log(settings),
        open_projection_store(settings),
        page=settings.projection_page,
        projections=chosen,
        unavailable=is_unavailable,
    )


def worker(settings: Settings, engine: RiskEngine | None = None) -> Worker:
    """A member of the worker group: Kafka records into the engine, exactly once in effect."""
    from adapters.kafka.worker import Worker, WorkerSettings  # noqa: PLC0415

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
    return Worker(engine or open_engine(settings, user="worker"), worker_settings)


def _relay_settings(settings: Settings) -> RelaySettings:
    from adapters.kafka.relay import RelaySettings  # noqa: PLC0415

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
    from adapters.kafka.relay import CommandRelay  # noqa: PLC0415

    return CommandRelay(open_outbox(settings), _relay_settings(settings))


def clock_relay(settings: Settings) -> ClockRelay:
    from adapters.kafka.clock import ClockRelay, ClockSettings  # noqa: PLC0415

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
        partial(operators, settings),
        partial(open_documents, settings),
        key_rings(settings),
        session_minutes=settings.session_minutes,
    )
