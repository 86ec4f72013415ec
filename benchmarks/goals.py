"""The goals a bench run is judged by: each a figure of the run against its target, met or not, or why not.

The bars of issue 10 (ingest at half its floor on both databases, flat from the
smaller workload to the full one, rebuild and replay rates, latency, bytes
stored) and the earlier ones the rows still answer (engine against naive,
Kafka against the bare consumer, memory).
"""

from __future__ import annotations

from typing import Any

Results = dict[str, dict[str, Any]]

FLOOR_SHARE = 0.5
FLAT_SHARE = 0.8
REBUILD_RATE = 50_000.0
REPLAY_RATE = 75_000.0
LATENCY_P99_MS = 100.0
STORAGE_RATIO = 2.5


def _measured(results: Results, name: str) -> dict[str, Any] | None:
    row = results.get(name)
    return row if row is not None and row.get("status") == "measured" else None


def rate(results: Results, name: str) -> float | None:
    row = _measured(results, name)
    return None if row is None else row.get("events_per_second")


def share(results: Results, name: str, of: str) -> float | None:
    """The rate of row `name` over the rate of row `of`, or None if either is missing."""
    top, bottom = rate(results, name), rate(results, of)
    return round(top / bottom, 3) if top and bottom else None


def reason(results: Results, *names: str) -> str:
    for name in names:
        row = results.get(name)
        if row is None:
            return f"row {name} not selected"
        if row.get("status") != "measured":
            return str(row.get("reason"))
    return "not measured"


class Goals:
    def __init__(self, results: Results, latency_rate: float) -> None:
        self.results = results
        self.latency_rate = latency_rate
        self.goals: list[dict[str, Any]] = []

    def add(self, text: str, value: float | None, target: float, rows: tuple[str, ...], higher: bool = True) -> None:
        met = None if value is None else (value >= target if higher else value < target)
        why = None if value is not None else reason(self.results, *rows)
        self.goals.append({"goal": text, "value": value, "target": target, "met": met, "reason": why})

    def judge(self) -> list[dict[str, Any]]:
        r = self.results
        for store in ("sqlite", "postgres"):
            engine, floor = f"{store}.engine", f"floor.{store}"
            self.add(f"{store}: engine ingest / floor", share(r, engine, floor), FLOOR_SHARE, (engine, floor))
        locked = share(r, "postgres.engine", "floor.postgres.locked")
        self.add(
            "postgres: engine ingest / floor with the table lock",
            locked,
            FLOOR_SHARE,
            ("postgres.engine", "floor.postgres.locked"),
        )
        for full, small, label in (
            ("sqlite.engine", "flat.sqlite.engine", "ingest"),
            ("rebuild.projections", "flat.rebuild.projections", "projection rebuild"),
            ("audit.replay", "flat.audit.replay", "audit replay"),
        ):
            self.add(
                f"flat: {label} rate, full workload / smaller one", share(r, full, small), FLAT_SHARE, (full, small)
            )
        self.add(
            "projection rebuild, inbound events/s",
            rate(r, "rebuild.projections"),
            REBUILD_RATE,
            ("rebuild.projections",),
        )
        self.add("audit replay, inbound events/s", rate(r, "audit.replay"), REPLAY_RATE, ("audit.replay",))
        latency = _measured(r, "latency")
        self.add(
            f"p99 account event to command at {self.latency_rate:,.0f} events/s, ms",
            None if latency is None else latency.get("account_event_p99_ms"),
            LATENCY_P99_MS,
            ("latency",),
            higher=False,
        )
        storage = _measured(r, "storage.sqlite")
        self.add(
            "SQLite event store / input bytes",
            None if storage is None else storage.get("ratio_to_input"),
            STORAGE_RATIO,
            ("storage.sqlite",),
            higher=False,
        )
        for store, target in (("sqlite", 10.0), ("postgres", 5.0)):
            engine, naive = f"{store}.engine", f"{store}.naive"
            ratio = share(r, engine, naive)
            self.add(f"{store}: engine ingest / naive per-event rate", ratio, target, (naive, engine))
        self.add(
            "kafka: 1 worker / bare consumer ceiling",
            share(r, "kafka.engine.1", "kafka.bare"),
            0.5,
            ("kafka.engine.1", "kafka.bare"),
        )
        ingest = _measured(r, "sqlite.engine")
        self.add(
            "peak RSS of the SQLite engine ingest, MiB",
            None if ingest is None else ingest.get("peak_rss_mib"),
            1024.0,
            ("sqlite.engine",),
            higher=False,
        )
        return self.goals
