"""`python -m benchmarks`'s Kafka rows, small, on the real broker: figures that add up, never speed.

The full-size rows run with `make bench`; here a few thousand events go
through the bare consumer, one and two workers with the relay (and one on
PostgreSQL, which times its hold of the table lock), and the latency row at a
low offered load, and the report must account for every record and every
command. Speed is never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.kafka_trace import STAGES

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

ROWS = ("kafka.bare", "kafka.engine.1", "kafka.engine.2", "kafka.engine.1.postgres", "peer.quixstreams", "latency")


def test_kafka_rows_account_for_every_record_and_command(
    tmp_path: Path, kafka_broker: Any, postgres_server: Any
) -> None:
    args = ["--events", "3000", "--accounts", "300", "--kafka", kafka_broker.bootstrap_servers]
    args += ["--postgres", postgres_server.url]
    args += ["--latency-rate", "400", "--latency-seconds", "5", "--latency-warmup", "1"]
    args += ["--peer-python", str(tmp_path / "no-such-python"), "--workdir", str(tmp_path / "work"), "--json"]
    for row in ROWS:
        args += ["--row", row]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    rows = {row["row"]: row for row in report["rows"]}
    assert tuple(rows) == ROWS
    for name in ("kafka.bare", "kafka.engine.1", "kafka.engine.2", "kafka.engine.1.postgres", "latency"):
        assert rows[name]["status"] == "measured", (name, rows[name].get("reason"))

    kafka = report["settings"]["kafka"]
    records = kafka["records"]
    assert records == 3000 + 3 * kafka["by_type"]["DayClosed"] == rows["kafka.bare"]["events"]  # 4 copies of each
    one, two, on_postgres = rows["kafka.engine.1"], rows["kafka.engine.2"], rows["kafka.engine.1.postgres"]
    for row in (one, two, on_postgres):
        assert row["events"] == records
        assert row["accepted"] + row["rejected"] + row["duplicates"] == records
        assert row["commands"] == row["commands_published"] > 0  # the relay published the whole outbox once
        assert 0 < row["recorded_seconds"] <= row["seconds"]
        assert row["share_of_bare"] > 0
    for figure in ("accepted", "rejected", "commands"):  # two workers decide what one decides
        assert one[figure] == two[figure], figure
    assert len(two["per_worker"]) == 2
    assert one["locks"] == two["locks"] == []  # SQLite has no table lock to time
    (lock,) = on_postgres["locks"]  # every transaction of the one worker took the lock, and it was timed
    assert lock["batches"] == on_postgres["batches"] and 0 < lock["p50_ms"] <= lock["p95_ms"] <= lock["max_ms"]
    ceiling = lock["events_per_batch_p50"] / (lock["p50_ms"] / 1000)  # one writer's batches back to back
    assert lock["ceiling_events_per_second"] == pytest.approx(ceiling, rel=0.01)

    latency = rows["latency"]
    assert latency["events"] == 2000
    assert 0 < latency["measured_commands"] <= latency["commands"]
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    traced = latency["breakdown"]  # the stages joined per command from the worker's and the relay's traces
    assert set(traced["stages_ms"]) == {"total", *(name for name, _ in STAGES)}
    assert 0 < traced["commands"] <= latency["account_event_commands"]
    assert traced["stages_ms"]["total"]["max"] <= latency["max_ms"]
    assert traced["transactions"]["count"] > 0 and traced["relay_pages"]["count"] > 0
    assert traced["worker_events"] > 0 and traced["worker_cpu_s"] > 0 and traced["relay_cpu_s"] > 0

    peer = rows["peer.quixstreams"]
    assert peer["status"] == "not measured" and "no-such-python" in peer["reason"]
    kafka_goal = next(goal for goal in report["goals"] if goal["goal"].startswith("kafka:"))
    assert kafka_goal["value"] == round(one["events_per_second"] / rows["kafka.bare"]["events_per_second"], 3)
