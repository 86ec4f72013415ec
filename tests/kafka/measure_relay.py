"""Measure the command relay's at-least-once cost: SIGKILL it at random instants, count repeats.

    python -m tests.kafka.measure_relay [--kills 20] [--page 100] [--accounts 600 --days 150]

Starts its own Kafka broker (or uses KAFKA_BOOTSTRAP_SERVERS), fills a SQLite
store from a synthetic portfolio, then runs `fengkong relay` as a process and
kills it (SIGKILL) at a random instant while it drains the outbox, again and
again, and finally lets it finish. Prints how many commands reached
`risk.commands` more than once, and checks that every command id is there.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from services.throwaway import KafkaBroker, admin_client, kafka_libs
from tests.kafka.support import Topics, fengkong_process, headers, portfolio, read_topic, relay_args
from tests.support.wiring import open_engine, outbox_drained


def _starts(log: Path) -> int:
    return log.read_text().count("relay: next notification") if log.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--page", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=600)
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = None if external else KafkaBroker(kafka_libs())
    if broker:
        broker.start()
    bootstrap = external or (broker.bootstrap_servers if broker else "")
    work = Path(tempfile.mkdtemp(prefix="fengkong-relay-"))
    try:
        store = str(work / "store.db")
        list(open_engine(store).ingest(portfolio(args.accounts, args.days)))
        expected = {c.command_id for c in open_engine(store).commands()}
        topic = f"risk.commands-{uuid.uuid4().hex[:8]}"
        admin = admin_client(bootstrap)
        admin.create_topics({topic: {"num_partitions": 3, "replication_factor": 1}}, wait_for_metadata=True)
        admin.close()
        topics = Topics("unused", "unused", "unused", topic, 3)
        log = work / "relay.log"
        engine = open_engine(store)
        mid_outbox = 0
        for _ in range(args.kills):
            started = _starts(log)
            relay = fengkong_process(relay_args(store, bootstrap, topics, page=args.page), log)
            while _starts(log) == started:  # past the start-up: it has read its position
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.5))  # a random instant while it drains
            relay.send_signal(signal.SIGKILL)
            relay.wait()
            position = engine.positions(f"relay:{topic}").get(0, 1)
            mid_outbox += not outbox_drained(store, topic)
            print(f"killed at notification {position}")
        relay = fengkong_process(relay_args(store, bootstrap, topics, page=args.page), log)
        deadline = time.monotonic() + 300
        while not outbox_drained(store, topic):
            assert time.monotonic() < deadline, "relay did not drain"
            time.sleep(0.2)
        relay.terminate()
        relay.wait(60)
        seen = Counter(headers(r)["command_id"] for r in read_topic(bootstrap, topic))
        repeats = sum(n - 1 for n in seen.values())
        assert set(seen) == expected, "a command is missing or foreign"
        print(
            f"{len(expected)} commands, relay SIGKILLed {args.kills} times, {mid_outbox} before the outbox was drained "
            f"(page {args.page} notifications): "
            f"{repeats} deliveries repeated ({sum(1 for n in seen.values() if n > 1)} distinct commands), "
            f"{len(seen)} distinct delivered, none missing"
        )
    finally:
        if broker:
            broker.close()


if __name__ == "__main__":
    main()
