"""The parent side of `python -m benchmarks`: workload, one child process per row, ratios, goals."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.audit.parallel import default_jobs
from benchmarks.context import Options, child, fresh_sqlite, load, machine, yardstick
from benchmarks.goals import Goals, share
from benchmarks.kafka import NoKafka, Topics, create_topics, delete_topics, kafka_broker, publish_workload
from benchmarks.postgres import NoPostgres, fresh_database, postgres_server
from benchmarks.rows import ROWS, Row
from benchmarks.workload import Workload, prepare

Report = dict[str, Any]


KAFKA_ROWS = frozenset(
    {
        "kafka.bare",
        "kafka.engine.1",
        "kafka.engine.2",
        "kafka.engine.4",
        "kafka.engine.1.postgres",
        "kafka.engine.2.postgres",
        "kafka.engine.4.postgres",
        "peer.quixstreams",
        "latency",
        "latency.high",
    }
)
KAFKA_TIMEOUT_S = 1800.0
LAG_BATCH = 100  # events per commit in the live-lag row: a live worker's small batches at a low load
PEER_VENV = Path(".venv-peer")
STORES = ("engine.db", "floor.db", "naive.db", "lag.db", "flat.db", "flat-floor.db", "latency.db", "latency.high.db")


def measuring_order(selected: list[Row]) -> list[Row]:
    """The selected rows, each flat row moved to right after its full-size row.

    The machine's speed drifts within a run (one run's yardstick went from 0.18 s at its start to 0.36 s at its
    end), so the two rates of a flat ratio must be measured side by side, not an hour apart.
    """
    names = {row.name for row in selected}
    paired = [row for row in selected if row.name.startswith("flat.") and row.name.removeprefix("flat.") in names]
    order: list[Row] = []
    for row in selected:
        if row not in paired:
            order.append(row)
            order.extend(flat for flat in paired if flat.name == f"flat.{row.name}")
    return order


def _needs(source: dict[str, Any], name: str) -> dict[str, Any] | None:
    """Why a row cannot run without the store row `name` wrote, or None when it did."""
    if source.get("status") == "measured":
        return None
    return {"status": "not measured", "reason": f"needs the store the {name} row writes"}


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
        self.pg_server: str | None = None
        self.no_postgres: str | None = None
        self.kept: dict[str, str] = {}  # row -> PostgreSQL database it wrote, kept for the storage row
        self.samples: dict[int, Workload] = {}

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
            for row in measuring_order(selected):
                self.progress(f"row {row.name}: {row.title}")
                self.results[row.name] = self._measure(row, workload)
        small = self._small() if any(row.name.startswith("flat.") for row in selected) else None
        return {
            "command": options.command,
            "machine": described,
            "workload": {**workload.describe(), "prepared_in_seconds": round(generated, 1)},
            "small_workload": small.describe() if small else None,
            "settings": {
                "batch_size": options.batch_size,
                "cache_size": options.cache_size,
                "naive_budget_seconds": options.naive_seconds,
                "naive_sample": options.naive_sample,
                "jobs": default_jobs(),
                "split_events": options.split_events,
                "kafka": self._kafka_settings(),
            },
            "rows": [self._row_report(row) for row in selected],
            "goals": Goals(self.results, options.latency_rate).judge(),
            "load_at_end": load(),
            "yardstick_at_end": yardstick(),
        }

    # ------------------------------------------------------------ rows

    def _measure(self, row: Row, workload: Workload) -> dict[str, Any]:
        if row.pending:
            return {"status": "not measured", "reason": f"not measured yet ({row.pending})"}
        base = {"row": row.name, "workload": workload.describe()}
        options = self.options
        engine = {"cache_size": options.cache_size, "batch_size": options.batch_size}
        name = row.name
        if name == "floor.sqlite":
            return child({**base, "store": fresh_sqlite(options.workdir / "floor.db"), **engine})
        if name == "sqlite.engine":
            return child({**base, "store": fresh_sqlite(options.workdir / "engine.db"), **engine})
        if name == "sqlite.engine.unsealed":
            return child({**base, "store": fresh_sqlite(options.workdir / "unsealed.db"), **engine, "unsealed": True})
        if name == "sqlite.naive":
            return child({**base, "store": fresh_sqlite(options.workdir / "naive.db"), **self._naive_spec()})
        if name.startswith(("floor.postgres", "postgres.")):
            return self._postgres(name, {**base, **engine})
        if name.startswith("storage."):
            return self._storage(name, workload, base)
        if name in ("rebuild.projections", "audit.replay"):
            return self._replay(name, "sqlite.engine", options.workdir / "engine.db", base)
        if name == "projections.lag":
            store = fresh_sqlite(options.workdir / "lag.db")
            return child({**base, "store": store, "sample": options.naive_sample, "batch_size": LAG_BATCH})
        if name in ("flat.floor.sqlite", "flat.sqlite.engine"):
            small = {"row": name, "workload": self._small().describe()}
            store = "flat-floor.db" if name == "flat.floor.sqlite" else "flat.db"
            return child({**small, "store": fresh_sqlite(options.workdir / store), **engine})
        if name.startswith("flat."):
            small = {"row": name, "workload": self._small().describe()}
            return self._replay(name, "flat.sqlite.engine", options.workdir / "flat.db", small)
        if name.startswith("split."):
            return self._split(name, engine, workload)
        if name == "memory":
            return self._memory()
        if name in KAFKA_ROWS:
            return self._kafka_row(row, workload, base)
        return child({**base, **self.options.extra.get(name, {})})

    def _small(self) -> Workload:
        events, accounts = self.options.small
        return prepare(self.options.workdir, events, accounts, self.options.seed)

    def _sample(self, events: int, workload: Workload) -> Workload:
        """The same generator and seed with accounts scaled to `events`, so the mix of types stays the workload's."""
        options = self.options
        if events >= workload.events:
            return workload
        if events not in self.samples:
            accounts = max(1, round(options.accounts * events / options.events))
            self.samples[events] = prepare(options.workdir, events, accounts, options.seed)
        return self.samples[events]

    def _replay(self, name: str, source_row: str, store: Path, base: dict[str, Any]) -> dict[str, Any]:
        """A rebuild or an audit over the store `source_row` wrote; rates in the inbound events it recorded."""
        source = self.results.get(source_row, {})
        if (missing := _needs(source, source_row)) is not None:
            return missing
        inbound = source.get("outcomes", {}).get("accepted", 0)
        spec = {**base, "store": str(store), "inbound_events": inbound, "jobs": default_jobs()}
        return child(spec)

    def _storage(self, name: str, workload: Workload, base: dict[str, Any]) -> dict[str, Any]:
        source_row = "sqlite.engine" if name == "storage.sqlite" else "postgres.engine"
        source = self.results.get(source_row, {})
        if (missing := _needs(source, source_row)) is not None:
            return missing
        store = str(self.options.workdir / "engine.db") if name == "storage.sqlite" else self.kept.pop(source_row, "")
        if not store:
            return {"status": "not measured", "reason": "the PostgreSQL engine row's database is gone"}
        inbound = source.get("outcomes", {}).get("accepted", 0)
        folder = str(self.options.workdir)
        return child(
            {**base, "store": store, "folder": folder, "inbound_events": inbound, "input_bytes": workload.size_bytes}
        )

    # ------------------------------------------------------------ PostgreSQL

    def _server(self) -> str:
        """The run's PostgreSQL server (started once, for every PostgreSQL row); NoPostgres if there is none."""
        if self.pg_server is None:
            if self.no_postgres is not None:
                raise NoPostgres(self.no_postgres)
            try:
                self.pg_server = self.services.enter_context(postgres_server(self.options.postgres))
            except NoPostgres as reason:
                self.no_postgres = str(reason)
                raise
        return self.pg_server

    def _database(self) -> str:
        """A fresh database on the run's server, dropped when the run ends."""
        return self.services.enter_context(fresh_database(self._server()))

    def _postgres(self, name: str, base: dict[str, Any]) -> dict[str, Any]:
        try:
            with contextlib.ExitStack() as stack:
                url = (
                    self._database()
                    if name == "postgres.engine"
                    else stack.enter_context(fresh_database(self._server()))
                )
                spec = {**base, "store": url}
                if name == "postgres.naive":
                    spec.update(self._naive_spec())
                result = child(spec)
                if name == "postgres.engine":
                    self.kept[name] = url  # its storage row measures it; dropped with the run's services
                return result
        except NoPostgres as reason:
            return {"status": "not measured", "reason": f"not measured: {reason}"}

    def _split(self, name: str, engine: dict[str, Any], workload: Workload) -> dict[str, Any]:
        """The scale-out simulation (benchmarks.split) on the sample of `--split-events` events."""
        sample = self._sample(self.options.split_events, workload)
        try:
            with contextlib.ExitStack() as stack:
                first = stack.enter_context(fresh_database(self._server()))
                second = first if name.endswith(".shared") else stack.enter_context(fresh_database(self._server()))
                return child({"row": name, "workload": sample.describe(), "urls": [first, second], **engine})
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
        sample = self._sample(options.kafka_events, workload)
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
            return child({**spec, "python": python}, python=python, module="benchmarks.peer")
        if row.name.startswith("kafka.engine."):
            commands = Topics.fresh(row.name).commands
            self.services.callback(delete_topics, bootstrap, [commands])
            create_topics(bootstrap, {commands: kafka["published"]["topics"]["partitions"]})
            spec = {**spec, "workers": int(row.name.split(".")[2]), "commands_topic": commands}
            if not row.name.endswith(".postgres"):
                return child({**spec, "store": fresh_sqlite(options.workdir / f"{row.name}.db")})
            try:
                with fresh_database(self._server()) as url:
                    return child({**spec, "store": url})
            except NoPostgres as reason:
                return {"status": "not measured", "reason": f"not measured: {reason}"}
        if row.name.startswith("latency"):
            rate = options.latency_rate if row.name == "latency" else options.latency_high_rate
            topics = Topics.fresh(row.name)
            self.services.callback(delete_topics, bootstrap, list(topics.specs()))
            create_topics(bootstrap, topics.specs())
            return child(
                {
                    **spec,
                    "workload": kafka["sample"],
                    "store": fresh_sqlite(options.workdir / f"{row.name}.db"),
                    "topics": topics.describe(),
                    "rate": rate,
                    # the sample is offered once: at a higher rate it lasts fewer seconds
                    "seconds": min(options.latency_seconds, kafka["published"]["events"] / rate),
                    "warmup_s": options.latency_warmup,
                }
            )
        return child(spec)

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
            "latency_high_rate": options.latency_high_rate,
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

    def _row_report(self, row: Row) -> dict[str, Any]:
        result = {key: value for key, value in self.results[row.name].items() if key != "marks"}
        report: dict[str, Any] = {"row": row.name, "section": row.section, "title": row.title, **result}
        if result.get("status") != "measured":
            return report
        compared = {
            "sqlite.engine": ("floor.sqlite", "share_of_floor"),
            "postgres.engine": ("floor.postgres", "share_of_floor"),
            "flat.sqlite.engine": ("flat.floor.sqlite", "share_of_floor"),
            "sqlite.naive": ("sqlite.engine", "engine_over_naive"),
            "postgres.naive": ("postgres.engine", "engine_over_naive"),
            "peer.quixstreams": ("kafka.engine.1", "engine_over_peer"),
        }
        if row.name in compared:
            other, key = compared[row.name]
            value = (
                share(self.results, other, row.name)
                if key.startswith("engine_")
                else share(self.results, row.name, other)
            )
            if value is not None:
                report[key] = value
        if row.name == "postgres.engine" and (locked := share(self.results, row.name, "floor.postgres.locked")):
            report["share_of_locked_floor"] = locked
        if row.name.startswith("kafka.engine.") and (bare := share(self.results, row.name, "kafka.bare")):
            report["share_of_bare"] = bare
        if row.name.startswith("flat."):
            full = row.name.removeprefix("flat.")
            if (flat := share(self.results, full, row.name)) is not None:
                report["full_over_small"] = flat
        return report


def clean(workdir: Path) -> None:
    """Remove the stores the rows wrote (the workload file is kept for the next run)."""
    kafka = [f"kafka.engine.{workers}.db" for workers in (1, 2, 4)]
    for name in (*STORES, *kafka):
        for suffix in ("", "-wal", "-shm"):
            Path(workdir / f"{name}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(workdir / "tmp", ignore_errors=True)
