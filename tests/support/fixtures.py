"""pytest plugin: real Kafka and PostgreSQL servers for tests that ask for them.

Load it with `pytest_plugins = ["tests.support.fixtures"]` (or `-p tests.support.fixtures`).
Servers start lazily, once per session, when a test first requests a fixture,
and stop at session end. A server that cannot start makes the requesting tests
ERROR, never skip: a run whose Kafka tests were skipped is not a passing run.

Point at existing servers instead with KAFKA_BOOTSTRAP_SERVERS and
FENGKONG_TEST_POSTGRES_URL; those cannot be stopped or restarted by tests.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest

from services.throwaway import (
    ExternalKafka,
    ExternalPostgres,
    KafkaBroker,
    PostgresServer,
    admin_client,
    drop_database,
    kafka_libs,
)

NewTopic = Callable[..., str]
"""`new_topic(partitions=1, *, replication_factor=1, configs=None, prefix="t") -> name`."""


def pytest_configure(config: pytest.Config) -> None:
    """Make SIGTERM run fixture teardown.

    By default SIGTERM (CI timeouts) ends Python without finalizers or atexit,
    which would leak the PostgreSQL server (pg_ctl daemonizes it); raising
    KeyboardInterrupt instead lets pytest tear the session down.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM handler: unwind like Ctrl-C so fixtures stop their servers."""
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker | ExternalKafka]:
    """The session's Kafka broker; `.bootstrap_servers`, and `.restart()`/`.kill()` when ours."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield ExternalKafka(external)
        return
    broker = KafkaBroker(kafka_libs())
    try:
        broker.start()
        yield broker
    finally:
        broker.close()


SESSION_MASTER_KEY = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
"""The master key of the session's PostgreSQL stores (a PostgreSQL store needs one configured: docs/privacy.md)."""


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | ExternalPostgres]:
    """The session's PostgreSQL server; `.url`, `.create_database()`, `.restart()` when ours.

    Its stores seal personal data under the session's master key, set in the environment from here on.
    """
    os.environ.setdefault("FENGKONG_MASTER_KEY", SESSION_MASTER_KEY)
    external = os.environ.get("FENGKONG_TEST_POSTGRES_URL")
    if external:
        yield ExternalPostgres(external)
        return
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer | ExternalPostgres) -> Iterator[str]:
    """URL of a fresh, empty database for this test only (dropped afterwards)."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    yield url
    with contextlib.suppress(Exception):  # cleanup only: the test may have stopped the server
        drop_database(postgres_server.url, name)


@pytest.fixture
def new_topic(kafka_broker: KafkaBroker | ExternalKafka) -> Iterator[NewTopic]:
    """Factory for uniquely named topics that exist (with leaders) before it returns."""
    admin = admin_client(kafka_broker.bootstrap_servers, client_id="fengkong-tests")
    created: list[str] = []

    def make(
        partitions: int = 1,
        *,
        replication_factor: int = 1,
        configs: dict[str, str] | None = None,
        prefix: str = "t",
    ) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        spec = {
            "num_partitions": partitions,
            "replication_factor": replication_factor,
            "configs": configs or {},
        }
        admin.create_topics({name: spec}, wait_for_metadata=True)
        created.append(name)
        return name

    try:
        yield make
    finally:
        with contextlib.suppress(Exception):  # cleanup only: the test may have stopped the broker
            if created:
                admin.delete_topics(created, timeout_ms=10_000, raise_errors=False)
        admin.close()
