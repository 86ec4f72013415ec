"""`python -m benchmarks` end to end on a tiny workload: every row has a figure or says why not.

Only the shape of the report is checked; speed is never asserted in tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.rows import ROW_NAMES


def test_every_row_is_measured_or_names_its_reason(tmp_path: Path, postgres_server: Any) -> None:
    docs = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--events",
            "2000",
            "--accounts",
            "200",
            "--naive-seconds",
            "1",
            "--naive-sample",
            "5",
            "--split-events",
            "1000",
            "--postgres",
            postgres_server.url,
            "--workdir",
            str(tmp_path / "work"),
            "--write-docs",
            str(docs),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = {row["row"]: row for row in report["rows"]}
    assert tuple(rows) == ROW_NAMES
    for name, row in rows.items():
        if row["status"] == "measured":
            assert row["events"] > 0, name
            assert row["peak_rss_mib"] > 0, name
        else:
            assert row["status"] == "not measured" and row["reason"], name
    kafka = [name for name in rows if name.startswith(("kafka.", "latency", "peer."))]
    assert len(kafka) == 10
    for name in kafka:
        assert rows[name]["reason"].startswith("not measured: no --kafka"), name  # never a figure without a broker
    lag = rows["projections.lag"]
    assert lag["status"] == "measured" and lag["batches"] > 0, lag.get("reason")
    assert 0 < lag["p50_ms"] <= lag["p95_ms"] <= lag["max_ms"]
    for name in set(rows) - set(kafka):
        assert rows[name]["status"] == "measured", (name, rows[name].get("reason"))
    assert rows["sqlite.engine"]["events"] == rows["floor.sqlite"]["events"] == 2000
    assert rows["flat.sqlite.engine"]["events"] == rows["flat.floor.sqlite"]["events"] == 200  # a tenth, same seed
    for name in ("floor.sqlite", "sqlite.engine"):  # each flat row against its own row on the full workload
        assert rows[f"flat.{name}"]["full_over_small"] == round(
            rows[name]["events_per_second"] / rows[f"flat.{name}"]["events_per_second"], 3
        )
    for name in ("audit.replay", "flat.audit.replay"):
        assert rows[name]["identical"] == rows[name]["accounts"] > 0
    for engine_row, floor_row in (
        ("sqlite.engine", "floor.sqlite"),
        ("postgres.engine", "floor.postgres"),
        ("flat.sqlite.engine", "flat.floor.sqlite"),
    ):  # the shares of the floor are the rates' ratios, each on its own workload
        engine = rows[engine_row]
        assert engine["share_of_floor"] == round(engine["events_per_second"] / rows[floor_row]["events_per_second"], 3)
    assert rows["postgres.engine"]["lock"]["batches"] == 1 and rows["floor.postgres.locked"]["lock_held_ms"]["p50"] > 0
    for name in ("storage.sqlite", "storage.postgres"):  # every part of the event store, per inbound event
        storage = rows[name]
        assert storage["inbound_events"] == 2000 and storage["event_store_bytes"] > 0
        parts = set(storage["parts_per_event"])
        assert "fengkong_inbound" in parts and parts & {"stored_events", "fengkong_events"}  # PostgreSQL's name
        assert round(sum(storage["parts_per_event"].values())) == pytest.approx(storage["bytes_per_event"], abs=1)
    for name in ("split.postgres.shared", "split.postgres.split"):  # every event of the sample, once
        split = rows[name]
        assert split["events"] == 1000 and sum(e["outcomes"]["accepted"] for e in split["per_engine"]) >= 1000
    assert rows["split.postgres.split"]["databases"] == 2 and rows["split.postgres.shared"]["databases"] == 1
    assert all(goal["met"] is not None or goal["reason"] for goal in report["goals"])
    text = docs.read_text()
    assert report["command"] in text and report["machine"]["cpu"] in text
    for yardstick in (report["machine"]["yardstick_at_start"], report["yardstick_at_end"]):  # the day's speed
        assert yardstick > 0 and f"{yardstick} s" in text
