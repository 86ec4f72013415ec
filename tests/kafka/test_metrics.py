"""`--metrics-port` on the worker, the relay and the clock relay: their series, scraped over HTTP from loopback."""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.kafka.support import (
    Topics,
    caught_up,
    end_offsets,
    fengkong_process,
    portfolio,
    publish,
    relay_args,
    stop_process,
    wait_for,
    worker_args,
)
from tests.support.wiring import outbox_drained

pytestmark = pytest.mark.kafka


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of a metrics port: name -> labels -> value."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def _scrapes(port: int) -> bool:
    try:
        scrape(port)
    except httpx.TransportError:
        return False
    return True


def test_worker_and_relay_export_their_series_on_a_loopback_port(
    kafka_broker: Any, topics: Topics, group: str, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    lines = portfolio(accounts=60, days=40)
    store = str(tmp_path / "kafka.db")
    publish(bootstrap, lines, topics)
    worker_port, relay_port = free_port(), free_port()
    worker = fengkong_process(
        [*worker_args(store, bootstrap, topics, group), "--metrics-port", str(worker_port)], tmp_path / "worker.log"
    )
    relay = None
    try:
        wait_for(caught_up(store, bootstrap, topics.events), 120, "the worker to record every offset")
        relay = fengkong_process(
            [*relay_args(store, bootstrap, topics), "--metrics-port", str(relay_port)], tmp_path / "relay.log"
        )
        wait_for(lambda: outbox_drained(store, topics.commands), 120, "the relay to drain the outbox")
        wait_for(lambda: _scrapes(worker_port) and _scrapes(relay_port), 30, "both metrics ports to answer")

        worker_samples = scrape(worker_port)
        events = worker_samples["fengkong_events_total"]
        by_outcome: Counter[str] = Counter()
        for labels, value in events.items():
            by_outcome[dict(labels)["outcome"]] += int(value)
        records = sum(end_offsets(bootstrap, topics.events).values())  # a DayClosed has a copy per partition
        assert records > len(lines)
        assert sum(by_outcome.values()) == records  # every record counted once, by its outcome
        assert by_outcome["accepted"] > 0 and by_outcome["rejected"] > 0  # the noisy portfolio has broken ones
        types = {dict(labels)["type"] for labels, value in events.items() if value}
        assert {"AccountOpened", "BillIssued"} <= types
        commands = worker_samples["fengkong_commands_total"]
        assert commands[(("type", "LockCard"),)] > 0
        assert worker_samples["fengkong_batch_seconds_count"][()] > 0
        lag = worker_samples["fengkong_consumer_lag"]
        assert {dict(labels)["partition"] for labels in lag} == {str(p) for p in range(topics.partitions)}
        assert set(lag.values()) == {0.0}  # caught up
        assert "process_resident_memory_bytes" in worker_samples

        wait_for(
            lambda: scrape(relay_port).get("fengkong_relay_lag", {}).get((("topic", topics.commands),)) == 0,
            30,
            "the relay to report it is caught up",
        )
        assert "fengkong_locks_held_total" in worker_samples  # the locks this worker's batches held
        for name in ("fengkong_held_locks", "fengkong_stuck_locks", "fengkong_brake_state"):
            assert name not in scrape(relay_port)  # the brake's state is the store's: the API's /metrics reads it
        account_ids = {orjson.loads(line).get("account_id") for line in lines if line.startswith(b"{")}
        text = httpx.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=10).text
        assert not any(account and account in text for account in account_ids)  # no personal data in labels
    finally:
        stop_process(worker)
        if relay is not None:
            stop_process(relay)
