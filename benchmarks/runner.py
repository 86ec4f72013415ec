"""The parent side of `python -m benchmarks`: workload, one child process per row, ratios, goals."""

from __future__ import annotations

import base64
import contextlib
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson

from adapters.audit.parallel import default_jobs
from benchmarks.kafka import NoKafka, Topics, create_topics, delete_topics, kafka_broker, publish_workload
from benchmarks.postgres import NoPostgres, fresh_database, postgres_server
from benchmarks.rows import ROWS, Row
from benchmarks.workload import Workload, prepare
from engine.application import DEFAULT_BATCH

Report = dict[str, Any]


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
    latency_seconds: float = 60.0
    latency_warmup: float = 10.0
    peer_python: str | None = None
    command: str = "python -m benchmarks"
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)  # more spec for rows that need it


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
        "load_at_start": _load(),
    }


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


KAFKA_ROWS = (
    "kafka.bare",
    "kafka.engine.1",
    "kafka.engine.2",
    "kafka.engine.1.postgres",
    "kafka.engine.2.postgres",
    "peer.quixstreams",
    "latency",
)
KAFKA_TIMEOUT_S = 1800.0
LAG_BATCH = 100  # events per commit in the live-lag row: a live worker's small batches at a low load
PEER_VENV = Path(".venv-peer")
REPO_ROOT = Path(__file__).resolve().parents[1]


def _child(spec: dict[str, Any], python: str | None = None, module: str = "benchmarks.child") -> dict[str, Any]:
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


def _fresh_sqlite(path: Path) -> str:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    return str(path)


class Bench:
    def __init__(self, options: Options, progress: Callable[[str], None] = lambda _: None) -> None:
        self.options = options
        self.progress = progress
        # A PostgreSQL store seals personal data only under a configured master key: one for this run's stores.
        os.environ.setdefault("FENGKONG_MASTER_KEY", base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode())
        self.results: dict[str, dict[str, Any]] = {}
        self.services = contextlib.ExitStack()
        self.kafka: dict[str, Any] | None = None  # bootstrap servers and the published sample, once set up
        self.no_kafka: str | None = None

    def run(self) -> Report:
        options = self.options
        options.workdir.mkdir(parents=True, exist_ok=True)
        self.progress(f"workload: {options.events:,} events over {options.accounts:,} accounts, seed {options.seed}")
        started = time.perf_counter()
        described = machine()
        workload = prepare(options.workdir, options.events, options.accounts, options.seed)
        generated = time.perf_counter() - started
        selected = [row for row in ROWS if not options.rows or row.name in options.rows]
        with self.services:
            for row in selected:
                self.progress(f"row {row.name}: {row.title}")
                self.results[row.name] = self._measure(row, workload)
        return {
            "command": options.command,
            "machine": described,
            "workload": {**workload.describe(), "prepared_in_seconds": round(generated, 1)},
            "settings": {
                "batch_size": options.batch_size,
                "cache_size": options.cache_size,
                "naive_budget_seconds": options.naive_seconds,
                "naive_sample": options.naive_sample,
                "kafka": self._kafka_settings(),
            },
            "rows": [self._row_report(row) for row in selected],
            "goals": self._goals(),
            "load_at_end": _load(),
        }

    # ------------------------------------------------------------ rows

    def _measure(self, row: Row, workload: Workload) -> dict[str, Any]:
        if row.pending:
            return {"status": "not measured", "reason": f"not measured yet ({row.pending})"}
        base = {"row": row.name, "workload": workload.describe()}
        options = self.options
        if row.name == "sqlite.engine":
            store = _fresh_sqlite(options.workdir / "engine.db")
            return _child({**base, "store": store, "cache_size": options.cache_size, "batch_size": options.batch_size})
        if row.name == "sqlite.engine.unsealed":
            store = _fresh_sqlite(options.workdir / "unsealed.db")
            spec = {
                "store": store,
                "cache_size": options.cache_size,
                "batch_size": options.batch_size,
                "unsealed": True,
            }
            return _child({**base, **spec})
        if row.name == "sqlite.naive":
            store = _fresh_sqlite(options.workdir / "naive.db")
            return _child({**base, "store": store, **self._naive_spec()})
        if row.name.startswith("postgres."):
            return self._postgres(row, base)
        if row.name == "rebuild.projections":
            source = self.results.get("sqlite.engine", {})
            if source.get("status") != "measured":
                return {"status": "not measured", "reason": "needs the store the sqlite.engine row writes"}
            return _child({**base, "store": str(options.workdir / "engine.db")})
        if row.name == "projections.lag":
            store = _fresh_sqlite(options.workdir / "lag.db")
            return _child({**base, "store": store, "sample": options.naive_sample, "batch_size": LAG_BATCH})
        if row.name == "audit.replay":
            source = self.results.get("sqlite.engine", {})
            if source.get("status") != "measured":
                return {"status": "not measured", "reason": "needs the store the sqlite.engine row writes"}
            hint = source.get("outcomes", {}).get("accepted", 0)
            store = str(options.workdir / "engine.db")
            return _child({**base, "store": store, "facts_hint": hint, "jobs": default_jobs()})
        if row.name == "memory":
            return self._memory()
        if row.name in KAFKA_ROWS:
            return self._kafka_row(row, workload, base)
        return _child({**base, **self.options.extra.get(row.name, {})})

    def _postgres(self, row: Row, base: dict[str, Any]) -> dict[str, Any]:
        options = self.options
        try:
            with postgres_server(options.postgres) as server, fresh_database(server) as url:
                if row.name == "postgres.engine":
                    spec = {**base, "store": url, "cache_size": options.cache_size, "batch_size": options.batch_size}
                else:
                    spec = {**base, "store": url, **self._naive_spec()}
                return _child(spec)
        except NoPostgres as reason:
            return {"status": "not measured", "reason": f"not measured: {reason}"}

    # ------------------------------------------------------------ Kafka rows

    def _kafka_setup(self, workload: Workload) -> dict[str, Any]:
        """Start (or name) the broker and publish the sample once, for every Kafka row of the run."""
        if self.kafka is not None:
            return self.kafka
        if self.no_kafka is not None:
            raise NoKafka(self.no_kafka)
        options = self.options
        try:
            bootstrap = self.services.enter_context(kafka_broker(options.kafka))
        except NoKafka as reason:
            self.no_kafka = str(reason)
            raise
        sample = workload
        if options.kafka_events < workload.events:
            accounts = max(1, round(options.accounts * options.kafka_events / options.events))
            sample = prepare(options.workdir, options.kafka_events, accounts, options.seed)
        topics = Topics.fresh("sample")
        self.services.callback(delete_topics, bootstrap, list(topics.specs()))
        create_topics(bootstrap, topics.specs())
        self.progress(f"kafka: publishing {sample.events:,} events to {topics.events} ({topics.partitions} partitions)")
        published = publish_workload(bootstrap, sample, topics)
        self.kafka = {"bootstrap": bootstrap, "published": published, "sample": sample.describe()}
        return self.kafka

    def _kafka_row(self, row: Row, workload: Workload, base: dict[str, Any]) -> dict[str, Any]:
        options = self.options
        try:
            kafka = self._kafka_setup(workload)
        except NoKafka as reason:
            return {"status": "not measured", "reason": f"not measured: {reason}"}
        spec = {**base, **kafka, "cache_size": options.cache_size, "timeout_s": KAFKA_TIMEOUT_S}
        spec.update(options.extra.get(row.name, {}))
        bootstrap = kafka["bootstrap"]
        if row.name == "peer.quixstreams":
            python = options.peer_python or (str(PEER_VENV / "bin" / "python") if PEER_VENV.exists() else None)
            if python is None or not Path(python).exists():
                missing = python or "no --peer-python and no .venv-peer"
                return {
                    "status": "not measured",
                    "reason": f"not measured: no interpreter for the peer ({missing}; make bench creates "
                    ".venv-peer: quixstreams needs its own environment)",
                }
            return _child({**spec, "python": python}, python=python, module="benchmarks.peer")
        if row.name.startswith("kafka.engine."):
            commands = Topics.fresh(row.name).commands
            self.services.callback(delete_topics, bootstrap, [commands])
            create_topics(bootstrap, {commands: kafka["published"]["topics"]["partitions"]})
            spec = {**spec, "workers": int(row.name.split(".")[2]), "commands_topic": commands}
            if not row.name.endswith(".postgres"):
                return _child({**spec, "store": _fresh_sqlite(options.workdir / f"{row.name}.db")})
            try:
                with postgres_server(options.postgres) as server, fresh_database(server) as url:
                    return _child({**spec, "store": url})
            except NoPostgres as reason:
                return {"status": "not measured", "reason": f"not measured: {reason}"}
        if row.name == "latency":
            topics = Topics.fresh("latency")
            self.services.callback(delete_topics, bootstrap, list(topics.specs()))
            create_topics(bootstrap, topics.specs())
            store = _fresh_sqlite(options.workdir / "latency.db")
            return _child(
                {
                    **spec,
                    "workload": kafka["sample"],
                    "store": store,
                    "topics": topics.describe(),
                    "rate": options.latency_rate,
                    "seconds": options.latency_seconds,
                    "warmup_s": options.latency_warmup,
                }
            )
        return _child(spec)

    def _kafka_settings(self) -> dict[str, Any]:
        options = self.options
        published = (self.kafka or {}).get("published", {})
        return {
            "broker": "throwaway (services/throwaway)" if options.kafka == "auto" else options.kafka,
            "events": published.get("events"),
            "accounts": published.get("accounts"),
            "records": published.get("records"),
            "partitions": published.get("topics", {}).get("partitions"),
            "days": (self.kafka or {}).get("sample", {}).get("days"),
            "by_type": (self.kafka or {}).get("sample", {}).get("by_type"),
            "publish_seconds": published.get("publish_seconds"),
            "latency_rate": options.latency_rate,
            "latency_seconds": options.latency_seconds,
            "latency_warmup": options.latency_warmup,
        }

    def _memory(self) -> dict[str, Any]:
        source = self.results.get("sqlite.engine", {})
        if source.get("status") != "measured":
            return {"status": "not measured", "reason": "derived from the sqlite.engine row, which did not run"}
        samples = source["rss_samples"]
        half = next((rss for done, rss in samples if done >= source["events"] // 2), samples[-1][1])
        return {
            "status": "measured",
            "events": source["events"],
            "peak_rss_mib": source["peak_rss_mib"],
            "rss_samples": samples,
            "rss_growth_second_half_mib": round(samples[-1][1] - half, 1),
            "cache_size": source["cache_size"],
        }

    # ------------------------------------------------------------ report

    def _naive_spec(self) -> dict[str, Any]:
        return {"budget_seconds": self.options.naive_seconds, "sample": self.options.naive_sample}

    def _rates(self, engine_row: str, naive_row: str) -> tuple[float, float] | None:
        """(rate of one row, rate of the row it is compared with), e.g. the engine's and the naive's."""
        engine, naive = self.results.get(engine_row, {}), self.results.get(naive_row, {})
        if engine.get("status") != "measured" or naive.get("status") != "measured":
            return None
        if not engine.get("events_per_second") or not naive.get("events_per_second"):
            return None
        return engine["events_per_second"], naive["events_per_second"]

    def _row_report(self, row: Row) -> dict[str, Any]:
        result = {key: value for key, value in self.results[row.name].items() if key != "marks"}
        report: dict[str, Any] = {"row": row.name, "section": row.section, "title": row.title, **result}
        if row.name.endswith(".naive") and result.get("status") == "measured":
            rates = self._rates(row.name.replace(".naive", ".engine"), row.name)
            if rates:
                report["engine_over_naive"] = round(rates[0] / rates[1], 1)
        if row.name.startswith("kafka.engine.") and (rates := self._rates(row.name, "kafka.bare")):
            report["share_of_bare"] = round(rates[0] / rates[1], 2)
        if row.name == "peer.quixstreams" and (rates := self._rates("kafka.engine.1", row.name)):
            report["engine_over_peer"] = round(rates[0] / rates[1], 2)
        return report

    def _goals(self) -> list[dict[str, Any]]:
        goals: list[dict[str, Any]] = []

        def goal(text: str, value: float | None, target: float, higher: bool = True, why: str | None = None) -> None:
            met = None if value is None else (value >= target if higher else value < target)
            goals.append({"goal": text, "value": value, "target": target, "met": met, "reason": why})

        for store, target in (("sqlite", 10.0), ("postgres", 5.0)):
            rates = self._rates(f"{store}.engine", f"{store}.naive")
            ratio = round(rates[0] / rates[1], 1) if rates else None
            goal(
                f"{store}: engine ingest rate / naive per-event rate",
                ratio,
                target,
                why=None if rates else self._reason(f"{store}.naive", f"{store}.engine"),
            )
        rates = self._rates("kafka.engine.1", "kafka.bare")
        share = round(rates[0] / rates[1], 2) if rates else None
        goal(
            "kafka: 1 worker / bare consumer ceiling",
            share,
            0.5,
            why=None if rates else self._reason("kafka.engine.1", "kafka.bare"),
        )
        for name, label in (("rebuild.projections", "projection rebuild"), ("audit.replay", "audit replay")):
            result = self.results.get(name, {})
            value = result.get("events_per_second") if result.get("status") == "measured" else None
            goal(f"{label}, events/s on SQLite", value, 50_000.0, why=None if value else self._reason(name))
        latency = self.results.get("latency", {})
        p99 = latency.get("p99_ms") if latency.get("status") == "measured" else None
        goal(
            f"p99 publish-to-command latency at {self.options.latency_rate:,.0f} events/s, ms",
            p99,
            100.0,
            higher=False,
            why=None if p99 is not None else self._reason("latency"),
        )
        peak = self.results.get("sqlite.engine", {}).get("peak_rss_mib")
        goal(
            "peak RSS of the SQLite engine ingest, MiB",
            peak,
            1024.0,
            higher=False,
            why=None if peak else self._reason("sqlite.engine"),
        )
        return goals

    def _reason(self, *names: str) -> str:
        for name in names:
            result = self.results.get(name)
            if result is None:
                return f"row {name} not selected"
            if result.get("status") != "measured":
                return str(result.get("reason"))
        return "not measured"


def clean(workdir: Path) -> None:
    """Remove the stores the rows wrote (the workload file is kept for the next run)."""
    for name in ("engine.db", "naive.db", "kafka.engine.1.db", "kafka.engine.2.db", "latency.db"):
        for suffix in ("", "-wal", "-shm"):
            Path(workdir / f"{name}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(workdir / "tmp", ignore_errors=True)
