"""What a bench run is given (`Options`), the machine it runs on, and how a row's child process is run."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson

from engine.application import DEFAULT_BATCH

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Options:
    events: int = 1_000_000
    accounts: int = 100_000
    seed: int = 7
    batch_size: int = DEFAULT_BATCH
    cache_size: int = 100_000
    naive_seconds: float = 120.0
    naive_sample: int = 50
    postgres: str | None = None
    workdir: Path = Path(".bench")
    rows: tuple[str, ...] = ()
    kafka: str | None = None
    kafka_events: int = 200_000
    latency_rate: float = 2_000.0
    latency_high_rate: float = 5_000.0
    latency_seconds: float = 60.0
    latency_warmup: float = 10.0
    small_events: int | None = None  # the flat rows' workload: a tenth of the events and accounts by default
    small_accounts: int | None = None
    split_events: int = 200_000
    peer_python: str | None = None
    command: str = "python -m benchmarks"
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)  # more spec for rows that need it

    @property
    def small(self) -> tuple[int, int]:
        return (self.small_events or max(1, self.events // 10), self.small_accounts or max(1, self.accounts // 10))


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    memory_gib = None
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
        memory_gib = round(kib / 1024**2, 1)
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {name: version(name) for name in ("eventsourcing", "pydantic", "psycopg", "orjson")},
        "load_at_start": load(),
        "yardstick_at_start": yardstick(),
    }


YARDSTICK_LOOPS = 5_000_000  # about 0.3 s on this repository's 2-core machine on a slow day


def yardstick() -> float:
    """Seconds this machine takes for a fixed piece of plain Python (5 million additions in a loop, best of 3).

    The machine's speed changes from one day to the next by more than a change to the code: the same commit's
    audit replay ran at 70,203 events/s one day and at 24,621 the next. So the rates of runs made on different
    days are compared beside their yardsticks, never alone.
    """
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(YARDSTICK_LOOPS):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def child(spec: dict[str, Any], python: str | None = None, module: str = "benchmarks.child") -> dict[str, Any]:
    """Run one row in a fresh interpreter and read its one JSON line."""
    done = subprocess.run(
        [python or sys.executable, "-m", module, orjson.dumps(spec, default=str).decode()],
        stdout=subprocess.PIPE,
        check=False,
        cwd=REPO_ROOT if python else None,  # the peer's environment finds adapters/ from the source tree
    )
    lines = done.stdout.strip().splitlines()
    if not lines:
        return {"status": "failed", "reason": f"row process exited {done.returncode} without a result"}
    return orjson.loads(lines[-1])  # type: ignore[no-any-return]


def fresh_sqlite(path: Path) -> str:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    return str(path)
