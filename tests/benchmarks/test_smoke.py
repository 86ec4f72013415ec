"""`python -m benchmarks` end to end on a tiny workload: every row has a figure or says why not.

Only the shape of the report is checked; speed is never asserted in tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    for name in ("kafka.bare", "kafka.engine.1", "kafka.engine.2", "peer.quixstreams", "latency"):
        assert rows[name]["reason"].startswith("not measured: no --kafka"), name  # never a figure without a broker
    measured = ("sqlite.engine", "sqlite.naive", "postgres.engine", "postgres.naive", "rebuild.projections")
    lag = rows["projections.lag"]
    assert lag["status"] == "measured" and lag["batches"] > 0, lag.get("reason")
    assert 0 < lag["p50_ms"] <= lag["p95_ms"] <= lag["max_ms"]
    for name in (*measured, "audit.replay", "memory"):
        assert rows[name]["status"] == "measured", (name, rows[name].get("reason"))
    assert rows["sqlite.engine"]["events"] == 2000
    assert rows["audit.replay"]["identical"] == rows["audit.replay"]["accounts"] > 0
    assert all(goal["met"] is not None or goal["reason"] for goal in report["goals"])
    text = docs.read_text()
    assert report["command"] in text and report["machine"]["cpu"] in text
