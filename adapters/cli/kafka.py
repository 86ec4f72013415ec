"""Kafka commands: `worker`, `relay`, `clock-relay`, `topics`, `publish`.

Long-running commands stop cleanly on SIGTERM or Ctrl-C: the current batch
is finished and recorded, then the process leaves its consumer group.

Each command imports the Kafka client when it runs, so that the other
commands of `fengkong` (and `--help`) start without it.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from adapters import bootstrap
from adapters.cli.common import (
    emit_json,
    kafka_logs_of_a_one_shot_command,
    kafka_logs_of_a_service,
    load_settings,
    open_engine,
    policy_option,
    shadow_option,
    store_option,
)
from adapters.cli.errors import translate
from adapters.cli.shadow import start_shadow
from adapters.files.jsonl import read_lines, whole_lines
from adapters.kafka.config import (
    CLOCK_GROUP,
    CLOCK_TOPIC,
    COMMANDS_TOPIC,
    DEAD_LETTER_TOPIC,
    EVENTS_TOPIC,
    WORKER_GROUP,
)
from adapters.monitoring.metrics import serve_metrics
from adapters.runtime import faults
from adapters.runtime.signals import stop_on_signals
from adapters.settings import Settings
from adapters.shadow.runner import ShadowFollower
from engine.application import DEFAULT_BATCH

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("fengkong.kafka")


def bootstrap_option(command: F) -> F:
    return click.option(
        "--bootstrap-servers",
        default=None,
        metavar="HOST:PORT[,...]",
        help="Kafka brokers (env KAFKA_BOOTSTRAP_SERVERS; default 127.0.0.1:9092).",
    )(command)


def timing_options(command: F) -> F:
    for option in (
        click.option("--session-timeout-ms", type=click.IntRange(1), help="Consumer-group session timeout (10000)."),
        click.option("--heartbeat-ms", type=click.IntRange(1), help="Consumer-group heartbeat interval (3000)."),
        click.option(
            "--max-poll-interval-ms",
            type=click.IntRange(1),
            help="A member that does not poll for this long leaves the group (300000).",
        ),
    ):
        command = option(command)
    return command


def ack_timeout_option(command: F) -> F:
    return click.option(
        "--ack-timeout-s",
        type=click.FloatRange(min=0, min_open=True),
        help="Seconds to wait for the broker to acknowledge; then the batch or page is retried after a backoff (60).",
    )(command)


def metrics_options(command: F) -> F:
    for option in (
        click.option(
            "--metrics-host",
            help="Address the metrics port binds to (env FENGKONG_METRICS_HOST; default 127.0.0.1, loopback only).",
        ),
        click.option(
            "--metrics-port",
            type=click.IntRange(0, 65535),
            help="Serve Prometheus metrics at http://HOST:PORT/metrics (env FENGKONG_METRICS_PORT; default off).",
        ),
    ):
        command = option(command)
    return command


@contextmanager
def metrics_port(settings: Settings) -> Iterator[None]:
    """The process's metrics on their own port while the service runs, if asked for."""
    try:
        server = serve_metrics(settings.metrics_host, settings.metrics_port)
    except OSError as error:
        raise click.ClickException(
            f"metrics port {settings.metrics_host}:{settings.metrics_port}: {error.strerror or error}"
        ) from None
    try:
        yield
    finally:
        if server is not None:
            server.close()


@click.command()
@bootstrap_option
@store_option
@policy_option
@shadow_option
@click.option("--topic", "events_topic", help=f"Inbound contract events, keyed by account_id ({EVENTS_TOPIC}).")
@click.option("--dead-letter-topic", help=f"Where refused records go ({DEAD_LETTER_TOPIC}).")
@click.option("--group-id", "worker_group", help=f"Consumer group of the workers ({WORKER_GROUP}).")
@click.option(
    "--batch-size", type=click.IntRange(1), help=f"Records per poll and per transaction, at most ({DEFAULT_BATCH})."
)
@click.option("--max-batch-bytes", type=click.IntRange(1), help="Bytes of values per transaction, at most (4 MiB).")
@click.option("--cache-size", type=click.IntRange(1), help="Accounts kept in memory (20000).")
@ack_timeout_option
@timing_options
@metrics_options
def worker(bootstrap_servers: str | None, **flags: Any) -> None:
    """Consume contract events into the store, exactly once in effect.

    Offsets are recorded in the store with the events they produced; records
    the engine refuses go to the dead-letter topic with the reason in headers.
    Run several in one group to share the partitions.
    """
    from adapters.kafka.retry import patiently  # noqa: PLC0415

    kafka_logs_of_a_service()
    stop = stop_on_signals()
    faults.arm_from_env()
    settings = load_settings(kafka_bootstrap_servers=bootstrap_servers, **flags)
    log.info("worker %d: group %s, topic %s", os.getpid(), settings.worker_group, settings.events_topic)
    engine = open_engine(settings, deciding=True, user="worker")
    member = patiently(lambda: bootstrap.worker(settings, engine), stop, log)
    if member is None:
        return
    shadow_run = start_shadow(settings)
    if shadow_run is not None:
        ShadowFollower(shadow_run, stop).start()
    with metrics_port(settings):
        member.run(stop)


@click.command()
@bootstrap_option
@store_option
@click.option("--topic", "commands_topic", help=f"Where commands are published ({COMMANDS_TOPIC}).")
@click.option("--page", "relay_page", type=click.IntRange(1), help="Commands published per recorded position (500).")
@ack_timeout_option
@metrics_options
def relay(bootstrap_servers: str | None, **flags: Any) -> None:
    """Publish recorded commands (the outbox) to Kafka, at least once, in order.

    Key = account_id, header command_id; the position is kept in the store.
    Downstream drops repeats by command_id.
    """
    from adapters.kafka.retry import patiently  # noqa: PLC0415

    kafka_logs_of_a_service()
    stop = stop_on_signals()
    faults.arm_from_env()
    settings = load_settings(kafka_bootstrap_servers=bootstrap_servers, **flags)
    command_relay = patiently(lambda: bootstrap.relay(settings), stop, log)
    if command_relay is None:
        return
    log.info("relay: next notification %d to %s", command_relay.position(), settings.commands_topic)
    with metrics_port(settings):
        command_relay.run(stop)


@click.command("clock-relay")
@bootstrap_option
@click.option("--clock-topic", help=f"Where upstream publishes DayClosed ({CLOCK_TOPIC}).")
@click.option("--topic", "events_topic", help=f"Events topic: one copy per partition ({EVENTS_TOPIC}).")
@click.option("--dead-letter-topic", help=f"Where refused records go ({DEAD_LETTER_TOPIC}).")
@click.option("--group-id", "clock_group", help=f"Consumer group of the clock relays ({CLOCK_GROUP}).")
@timing_options
@metrics_options
def clock_relay(bootstrap_servers: str | None, **flags: Any) -> None:
    """Copy each DayClosed from the clock topic into every partition of the events topic."""
    from adapters.kafka.retry import patiently  # noqa: PLC0415

    kafka_logs_of_a_service()
    stop = stop_on_signals()
    faults.arm_from_env()
    settings = load_settings(kafka_bootstrap_servers=bootstrap_servers, **flags)
    log.info("clock relay: %s -> every partition of %s", settings.clock_topic, settings.events_topic)
    clock = patiently(lambda: bootstrap.clock_relay(settings), stop, log)
    if clock is None:
        return
    with metrics_port(settings):
        clock.run(stop)


@click.command()
@bootstrap_option
@click.option("--partitions", default=4, show_default=True, help="Partitions of the events and commands topics.")
@click.option("--replication-factor", default=1, show_default=True, help="Replicas of every topic.")
@click.option("--topic", default=EVENTS_TOPIC, show_default=True)
@click.option("--dead-letter-topic", default=DEAD_LETTER_TOPIC, show_default=True)
@click.option("--clock-topic", default=CLOCK_TOPIC, show_default=True)
@click.option("--commands-topic", default=COMMANDS_TOPIC, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def topics(
    bootstrap_servers: str | None,
    partitions: int,
    replication_factor: int,
    topic: str,
    dead_letter_topic: str,
    clock_topic: str,
    commands_topic: str,
    as_json: bool,
) -> None:
    """Create the engine's topics where missing (the clock topic gets one partition)."""
    from adapters.kafka.client import KafkaError  # noqa: PLC0415
    from adapters.kafka.topics import TopicPlan, ensure_topics  # noqa: PLC0415

    plan = TopicPlan(topic, dead_letter_topic, clock_topic, commands_topic, partitions, replication_factor)
    kafka_logs_of_a_one_shot_command()
    try:
        status = ensure_topics(load_settings(kafka_bootstrap_servers=bootstrap_servers).kafka_bootstrap_servers, plan)
    except KafkaError as error:
        raise (translate(error) or click.ClickException(f"could not create topics: {error}")) from None
    if as_json:
        emit_json(status)
    else:
        for name, state in status.items():
            click.echo(f"{name}: {state}")


@click.command()
@click.argument("source", metavar="FILE|-")
@bootstrap_option
@click.option("--topic", default=EVENTS_TOPIC, show_default=True, help="Account events, keyed by account_id.")
@click.option("--clock-topic", default=CLOCK_TOPIC, show_default=True, help="Where DayClosed goes.")
@click.option(
    "--clock-copies",
    is_flag=True,
    help="Write DayClosed straight into every partition of --topic (in line with the events) instead.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def publish(
    source: str, bootstrap_servers: str | None, topic: str, clock_topic: str, clock_copies: bool, as_json: bool
) -> None:
    """Publish contract events from a JSONL file (or -) as upstream billing would."""
    from adapters.kafka.client import KafkaProducer  # noqa: PLC0415
    from adapters.kafka.publish import MAX_RECORD_BYTES, publish_lines  # noqa: PLC0415
    from adapters.kafka.retry import CLIENT_RECONNECT  # noqa: PLC0415

    servers = load_settings(kafka_bootstrap_servers=bootstrap_servers).kafka_bootstrap_servers
    kafka_logs_of_a_one_shot_command()
    producer = KafkaProducer(
        bootstrap_servers=servers, client_id="fengkong-publish", enable_idempotence=True, **CLIENT_RECONNECT
    )
    try:
        skipped: Counter[str] = Counter()
        whole = whole_lines(read_lines(source, limit=MAX_RECORD_BYTES), skipped)
        counts = publish_lines(producer, whole, topic, None if clock_copies else clock_topic) + skipped
    finally:
        producer.close()
    if as_json:
        emit_json(dict(counts))
    else:
        click.echo(", ".join(f"{key} {value}" for key, value in sorted(counts.items())) or "nothing published")


KAFKA_COMMANDS = (worker, relay, clock_relay, topics, publish)
