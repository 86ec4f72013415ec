"""Kafka commands: `worker`, `relay`, `clock-relay`, `topics`, `publish`.

Long-running commands stop cleanly on SIGTERM or Ctrl-C: the current batch
is finished and recorded, then the process leaves its consumer group.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import click

from adapters.bootstrap import open_engine
from adapters.cli.common import emit_json, engine_for, policy_option, store_option
from adapters.files.jsonl import read_lines
from adapters.kafka.client import KafkaError, KafkaProducer
from adapters.kafka.clock import ClockRelay, ClockSettings
from adapters.kafka.config import (
    BOOTSTRAP_ENV,
    CLOCK_GROUP,
    CLOCK_TOPIC,
    COMMANDS_TOPIC,
    DEAD_LETTER_TOPIC,
    EVENTS_TOPIC,
    WORKER_GROUP,
    GroupTiming,
    bootstrap_servers,
)
from adapters.kafka.publish import publish_lines
from adapters.kafka.relay import CommandRelay, RelaySettings
from adapters.kafka.topics import TopicPlan, ensure_topics
from adapters.kafka.worker import Worker, WorkerSettings
from adapters.runtime import faults
from engine.application import DEFAULT_BATCH

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("fengkong.kafka")


def bootstrap_option(command: F) -> F:
    return click.option(
        "--bootstrap-servers",
        envvar=BOOTSTRAP_ENV,
        default=None,
        metavar="HOST:PORT[,...]",
        help=f"Kafka brokers (env {BOOTSTRAP_ENV}; default 127.0.0.1:9092).",
    )(command)


def timing_options(command: F) -> F:
    for option in (
        click.option("--session-timeout-ms", default=10_000, show_default=True, help="Consumer-group session timeout."),
        click.option("--heartbeat-ms", default=3_000, show_default=True, help="Consumer-group heartbeat interval."),
        click.option(
            "--max-poll-interval-ms",
            default=300_000,
            show_default=True,
            help="A member that does not poll for this long leaves the group.",
        ),
    ):
        command = option(command)
    return command


def ack_timeout_option(command: F) -> F:
    return click.option(
        "--ack-timeout-s",
        default=60.0,
        show_default=True,
        help="Seconds to wait for the broker to acknowledge; then the batch or page is retried after a backoff.",
    )(command)


def _timing(session_timeout_ms: int, heartbeat_ms: int, max_poll_interval_ms: int) -> GroupTiming:
    return GroupTiming(session_timeout_ms, heartbeat_ms, max_poll_interval_ms)


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the loops finish their batch and exit."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        log.info("signal %d: finishing the current batch, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


@click.command()
@bootstrap_option
@store_option
@policy_option
@click.option("--topic", default=EVENTS_TOPIC, show_default=True, help="Inbound contract events, keyed by account_id.")
@click.option("--dead-letter-topic", default=DEAD_LETTER_TOPIC, show_default=True, help="Where refused records go.")
@click.option("--group-id", default=WORKER_GROUP, show_default=True, help="Consumer group of the workers.")
@click.option(
    "--batch-size", default=DEFAULT_BATCH, show_default=True, help="Records per poll and per transaction (at most)."
)
@click.option(
    "--max-batch-bytes", default=4 * 1024 * 1024, show_default=True, help="Bytes of values per transaction (at most)."
)
@click.option("--cache-size", default=20_000, show_default=True, help="Accounts kept in memory.")
@ack_timeout_option
@timing_options
def worker(
    bootstrap_servers: str | None,
    store: str | None,
    policy: str,
    topic: str,
    dead_letter_topic: str,
    group_id: str,
    batch_size: int,
    max_batch_bytes: int,
    cache_size: int,
    ack_timeout_s: float,
    session_timeout_ms: int,
    heartbeat_ms: int,
    max_poll_interval_ms: int,
) -> None:
    """Consume contract events into the store, exactly once in effect.

    Offsets are recorded in the store with the events they produced; records
    the engine refuses go to the dead-letter topic with the reason in headers.
    Run several in one group to share the partitions.
    """
    _quiet_kafka()
    stop = _stop_on_signals()
    faults.arm_from_env()
    try:
        engine = open_engine(store, policy, cache_size=cache_size)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    settings = WorkerSettings(
        bootstrap_servers=_servers(bootstrap_servers),
        topic=topic,
        dead_letter_topic=dead_letter_topic,
        group_id=group_id,
        client_id=f"fengkong-worker-{os.getpid()}",
        max_poll_records=batch_size,
        max_batch_bytes=max_batch_bytes,
        timing=_timing(session_timeout_ms, heartbeat_ms, max_poll_interval_ms),
        ack_timeout_s=ack_timeout_s,
    )
    log.info("worker %d: group %s, topic %s", os.getpid(), group_id, topic)
    Worker(engine, settings).run(stop)


@click.command()
@bootstrap_option
@store_option
@click.option("--topic", default=COMMANDS_TOPIC, show_default=True, help="Where commands are published.")
@click.option("--page", default=500, show_default=True, help="Commands published per recorded position.")
@ack_timeout_option
def relay(bootstrap_servers: str | None, store: str | None, topic: str, page: int, ack_timeout_s: float) -> None:
    """Publish recorded commands (the outbox) to Kafka, at least once, in order.

    Key = account_id, header command_id; the position is kept in the store.
    Downstream drops repeats by command_id.
    """
    _quiet_kafka()
    stop = _stop_on_signals()
    faults.arm_from_env()
    settings = RelaySettings(
        bootstrap_servers=_servers(bootstrap_servers), topic=topic, page=page, ack_timeout_s=ack_timeout_s
    )
    relay = CommandRelay(engine_for(store), settings)
    log.info("relay: next notification %d to %s", relay.position(), topic)
    relay.run(stop)


@click.command("clock-relay")
@bootstrap_option
@click.option("--clock-topic", default=CLOCK_TOPIC, show_default=True, help="Where upstream publishes DayClosed.")
@click.option("--topic", default=EVENTS_TOPIC, show_default=True, help="Events topic: one copy per partition.")
@click.option("--dead-letter-topic", default=DEAD_LETTER_TOPIC, show_default=True, help="Where refused records go.")
@click.option("--group-id", default=CLOCK_GROUP, show_default=True, help="Consumer group of the clock relays.")
@timing_options
def clock_relay(
    bootstrap_servers: str | None,
    clock_topic: str,
    topic: str,
    dead_letter_topic: str,
    group_id: str,
    session_timeout_ms: int,
    heartbeat_ms: int,
    max_poll_interval_ms: int,
) -> None:
    """Copy each DayClosed from the clock topic into every partition of the events topic."""
    _quiet_kafka()
    stop = _stop_on_signals()
    faults.arm_from_env()
    settings = ClockSettings(
        bootstrap_servers=_servers(bootstrap_servers),
        clock_topic=clock_topic,
        events_topic=topic,
        dead_letter_topic=dead_letter_topic,
        group_id=group_id,
        timing=_timing(session_timeout_ms, heartbeat_ms, max_poll_interval_ms),
    )
    log.info("clock relay: %s -> every partition of %s", clock_topic, topic)
    ClockRelay(settings).run(stop)


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
    plan = TopicPlan(topic, dead_letter_topic, clock_topic, commands_topic, partitions, replication_factor)
    try:
        status = ensure_topics(_servers(bootstrap_servers), plan)
    except KafkaError as error:
        raise click.ClickException(f"could not create topics: {error}") from None
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
    producer = KafkaProducer(
        bootstrap_servers=_servers(bootstrap_servers), client_id="fengkong-publish", enable_idempotence=True
    )
    try:
        counts = publish_lines(producer, read_lines(source), topic, None if clock_copies else clock_topic)
    finally:
        producer.close()
    if as_json:
        emit_json(dict(counts))
    else:
        click.echo(", ".join(f"{key} {value}" for key, value in sorted(counts.items())) or "nothing published")


def _servers(explicit: str | None) -> str:
    return bootstrap_servers(explicit)


def _quiet_kafka() -> None:
    """Services log their progress at INFO; kafka-python's per-connection chatter stays at WARNING."""
    root = logging.getLogger()
    verbose = root.level < logging.INFO
    root.setLevel(min(root.level, logging.INFO))
    if not verbose:
        logging.getLogger("kafka").setLevel(logging.WARNING)


KAFKA_COMMANDS = (worker, relay, clock_relay, topics, publish)
