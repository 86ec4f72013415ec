"""End to end on the real broker: contract events in, the store, the commands topic out."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from adapters.cli import cli
from adapters.kafka.clock import ClockRelay, ClockSettings
from adapters.kafka.config import CLOCK_PARTITION_HEADER, COMMAND_ID_HEADER
from adapters.kafka.partitioning import partition_for
from adapters.kafka.publish import publish_lines
from adapters.kafka.relay import CommandRelay, RelaySettings
from services.throwaway import admin_client
from tests.kafka.support import (
    FAST,
    Topics,
    WorkerThread,
    assert_same,
    caught_up,
    headers,
    portfolio,
    producer,
    publish,
    read_topic,
    reference_run,
    snapshot,
    wait_for,
)
from tests.support.wiring import open_engine, outbox_at

pytestmark = pytest.mark.kafka


def relay_until_drained(store: str, bootstrap: str, topics: Topics, page: int = 200) -> int:
    """Run the command relay until the outbox is empty; commands published."""
    relay = CommandRelay(outbox_at(store, topics.commands), RelaySettings(bootstrap, topics.commands, page=page))
    published = 0
    while (count := relay.relay_once()) > 0:
        published += relay.published - published
        assert count <= page
    relay.producer.close()
    return relay.published


def test_contract_events_to_commands_topic_equal_a_clean_run(
    kafka_broker: Any, topics: Topics, group: str, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    lines = portfolio(accounts=150, days=90)
    reference = reference_run(lines, tmp_path / "reference.db")
    store = str(tmp_path / "kafka.db")

    publish(bootstrap, lines, topics)
    worker = WorkerThread(store, bootstrap, topics, group).start()
    wait_for(caught_up(store, bootstrap, topics.events), 120, "the worker to record every offset")
    stats = worker.stop()
    published = relay_until_drained(store, bootstrap, topics)

    assert_same(snapshot(store), reference.snapshot)
    assert stats.rejected == reference.rejected > 0  # the noisy portfolio has broken messages
    assert stats.duplicates >= reference.outcomes.get("duplicate", 0) > 0
    letters = read_topic(bootstrap, topics.dead_letters)
    assert len(letters) == reference.rejected
    commands = read_topic(bootstrap, topics.commands)
    ids = [headers(record)[COMMAND_ID_HEADER] for record in commands]
    assert published == len(ids) == len(reference.snapshot.command_ids)
    assert sorted(ids) == sorted(reference.snapshot.command_ids)  # a clean run: each exactly once
    for record in commands:  # keyed by account, so one account's commands stay in order
        assert record.key == orjson.loads(record.value)["account_id"].encode()


def test_day_closed_on_the_clock_topic_reaches_every_workers_accounts(
    kafka_broker: Any, topics: Topics, group: str, tmp_path: Path
) -> None:
    """Upstream closes each day once on billing.clock; two workers each escalate their own reviews."""
    bootstrap = kafka_broker.bootstrap_servers
    days: list[list[bytes]] = []
    current: list[bytes] = []
    for line in portfolio(accounts=200, days=150, seed=1, noise=False):  # review escalations on all 3 partitions
        current.append(line)
        if b'"DayClosed"' in line:
            days.append(current)
            current = []
    reference = reference_run([line for day in days for line in day], tmp_path / "reference.db")
    store = str(tmp_path / "kafka.db")

    clock = ClockRelay(ClockSettings(bootstrap, topics.clock, topics.events, topics.dead_letters, timing=FAST))
    stop = threading.Event()
    clock_thread = threading.Thread(target=clock.run, args=(stop,), daemon=True)
    clock_thread.start()
    workers = [WorkerThread(store, bootstrap, topics, group).start() for _ in range(2)]
    upstream = producer(bootstrap)
    try:
        # Both in the group before the first day: on a busy machine a join could outlast the whole stream.
        wait_for(lambda: all(w.worker.owned() for w in workers), 60, "both workers to own partitions")
        for closed, day in enumerate(days, start=1):
            # An upstream that announces a close once the day's events are acknowledged, and
            # starts the next day once the close is announced: each copy lands between the days.
            publish_lines(upstream, day, topics.events, topics.clock)
            wait_for(lambda: clock.copied >= closed, 30, "the clock relay's copies", 0.01)  # noqa: B023
        wait_for(caught_up(store, bootstrap, topics.events), 120, "the workers to record every offset")
        stats = [w.stop() for w in workers]
    finally:
        upstream.close()
        stop.set()
        clock_thread.join(30)

    assert clock.copied == len(days)
    copies_seen = read_topic(bootstrap, topics.events)
    by_partition = Counter(int(headers(r)[CLOCK_PARTITION_HEADER]) for r in copies_seen if r.headers)
    assert by_partition == dict.fromkeys(range(topics.partitions), len(days))
    assert all(s.batches > 0 for s in stats), "both workers took part"
    letters = read_topic(bootstrap, topics.dead_letters)
    assert len(letters) == reference.rejected, "only what the clean run refuses; no copy of a DayClosed"
    assert not [r for r in letters if b"DayClosed" in r.value]
    got = snapshot(store)
    assert_same(got, reference.snapshot)
    escalated = {command.account_id for command in open_engine(store).commands() if command.rule == "review.escalate"}
    owners = {partition_for(account_id.encode(), topics.partitions) for account_id in escalated}
    assert len(owners) >= 2, f"the clock should reach the accounts of several partitions: {owners}"


def test_a_relay_crash_after_publishing_repeats_one_page_and_skips_nothing(
    kafka_broker: Any, topics: Topics, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    store = str(tmp_path / "store.db")
    list(open_engine(store).ingest(portfolio(accounts=150, days=90)))
    expected = [c.command_id for c in open_engine(store).commands()]
    settings = RelaySettings(bootstrap, topics.commands, page=40)

    doomed = CommandRelay(outbox_at(store, topics.commands), settings)
    while doomed.published == 0:  # some pages hold decisions without commands
        doomed.relay_once()
    recorded = doomed.published
    advance, send = doomed.outbox.advance, doomed.producer.send
    sent: list[object] = []

    def counting_send(*args: Any, **kwargs: Any) -> Any:
        sent.append(args)
        return send(*args, **kwargs)

    def crash(*args: Any, **kwargs: Any) -> None:
        if sent:
            raise SystemExit("relay killed after the broker acknowledged its page, before recording it")
        advance(*args, **kwargs)

    doomed.producer.send = counting_send
    doomed.outbox.advance = crash  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        while doomed.relay_once():
            pass
    doomed.producer.close()
    first_two_pages = read_topic(bootstrap, topics.commands)
    assert len(first_two_pages) == recorded + len(sent)

    restarted = CommandRelay(outbox_at(store, topics.commands), settings)
    assert restarted.position() == doomed.position() > 1
    while restarted.relay_once():
        pass
    restarted.producer.close()

    seen = Counter(headers(record)[COMMAND_ID_HEADER] for record in read_topic(bootstrap, topics.commands))
    assert sorted(seen) == sorted(expected), "every command, no other"
    repeated = {command_id for command_id, count in seen.items() if count > 1}
    assert max(seen.values()) == 2
    assert repeated == set(expected[recorded : len(first_two_pages)]), "exactly the unrecorded page came again"


def delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = admin_client(bootstrap)
    try:
        admin.delete_topics(names, timeout_ms=10_000, raise_errors=False)
    finally:
        admin.close()


def test_topics_command_creates_the_engines_topics_once(
    kafka_broker: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    suffix = uuid.uuid4().hex[:8]
    names = [f"{name}-{suffix}" for name in ("billing.events", "billing.events.dlq", "billing.clock", "risk.commands")]
    options = ["--topic", names[0], "--dead-letter-topic", names[1], "--clock-topic", names[2]]
    command = ["topics", "--bootstrap-servers", bootstrap, "--partitions", "3", *options, "--commands-topic", names[3]]

    first = CliRunner().invoke(cli, [*command, "--json"])
    again = CliRunner().invoke(cli, [*command, "--json"])
    request.addfinalizer(lambda: delete_topics(bootstrap, names))

    assert first.exit_code == 0, first.output
    assert orjson.loads(first.output) == dict.fromkeys(names, "created")
    assert orjson.loads(again.output) == {
        names[0]: "exists (3 partitions)",
        names[1]: "exists (1 partitions)",
        names[2]: "exists (1 partitions)",
        names[3]: "exists (3 partitions)",
    }
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(b"\n".join(portfolio(accounts=5, days=3, noise=False)) + b"\n")
    published = CliRunner().invoke(
        cli, ["publish", str(lines), "--bootstrap-servers", bootstrap, "--topic", names[0], "--clock-topic", names[2]]
    )
    assert published.exit_code == 0, published.output
    assert len(read_topic(bootstrap, names[2])) == 3  # one DayClosed per day, on the clock topic only
    assert all(record.key for record in read_topic(bootstrap, names[0]))
