"""The floor: the least a durable, deduplicating ingest does per event, as a yardstick for the engine.

Per inbound message the floor does what no design of the engine can avoid:

* validates it against the contract (pydantic, from the JSON bytes, through the
  discriminated union of `events.inbound`'s models: the same validators the
  engine runs);
* drops a repeated `event_id` (one indexed lookup per batch, as the engine does);
* applies it to an in-memory per-account state and runs one rule, lock on
  overdue (contract rule 1; the lock is reset when the overdue is paid off, so
  each overdue episode locks once, as the benchmark's Quix Streams peer does);
* writes one fact row (the message as received), one dedup row (`event_id`,
  unique) and, when the rule decides, one decision row (orjson-encoded command),
  each table by one `executemany` per batch, committing every `--batch` events.
  On the bench workload the rule decides on about 3.5% of events; writing a
  decision row for 14% (the engine's share of commands) measured the same.

SQLite runs in WAL mode with `synchronous=FULL` (a committed batch survives a
power loss). PostgreSQL runs with `synchronous_commit=on`; the `postgres.locked`
row also takes eventsourcing's `LOCK TABLE ... IN EXCLUSIVE MODE` on the facts
table in every write transaction, as eventsourcing's PostgreSQL recorder does
for its stored events, and reports how long each batch held it.

Python's cyclic garbage collector gets the engine's treatment
(`engine.collector`: paused during a batch, what survives frozen after it), so
the floor does not pay for walking its long-lived per-account state again and
again either; at 1M events that walk alone would cost the floor a third of its
rate and flatter the engine's share of it.

It keeps no audit trail, no balances, no policy versions and reads no streams:
it is the floor under the engine, not a competitor.

    python -m benchmarks.floor --events 200000 --accounts 20000 --seed 7 [--postgres URL|auto] [--row NAME]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

import orjson
import psycopg
from pydantic import TypeAdapter, ValidationError

from benchmarks.measure import peak_rss_mib
from benchmarks.postgres import fresh_database, postgres_server
from benchmarks.workload import Workload, prepare
from engine.collector import cyclic_gc_paused
from events.inbound import DayClosed, InboundEvent, OverdueReported, RepaymentReceived

BATCH = 2000
ROWS = ("sqlite", "postgres", "postgres.locked")
ONE = Decimal("1.00")
ZERO = Decimal(0)

_CONTRACT: TypeAdapter[Any] = TypeAdapter(InboundEvent)

FactRow = tuple[str, str | None, str, bytes]  # event_id, account_id, type, message
DecisionRow = tuple[str, str, str, bytes]  # event_id, account_id, rule, command (JSON)


# ---------------------------------------------------------------- the rule


@dataclass
class Account:
    """What the lock rule keeps per account: the bills reported overdue and whether the card is locked."""

    overdue: dict[str, Decimal] = field(default_factory=dict)
    locked: bool = False


def lock_rule(account: Account, event: OverdueReported | RepaymentReceived) -> str | None:
    """Update the account; the rule that fired ("lock.overdue", "unlock.paid_off") or None."""
    if isinstance(event, OverdueReported):
        account.overdue[event.data.bill_id] = event.data.outstanding
        if not account.locked and sum(account.overdue.values(), ZERO) >= ONE:
            account.locked = True
            return "lock.overdue"
        return None
    if not account.overdue:
        return None
    left = event.data.amount
    named = event.data.bill_id or event.data.plan_id
    bills = [b for b in account.overdue if named and (b == named or b.startswith(f"{named}#"))] or list(account.overdue)
    for bill in bills:
        paid = min(left, account.overdue[bill])
        left -= paid
        if account.overdue[bill] > paid:
            account.overdue[bill] -= paid
        else:
            del account.overdue[bill]
        if left <= ZERO:
            break
    if account.locked and not account.overdue:
        account.locked = False
        return "unlock.paid_off"
    return None


# ---------------------------------------------------------------- the stores


class Store(Protocol):
    """One transaction per batch: which ids are known, then every row written together."""

    def known(self, event_ids: Sequence[str]) -> set[str]: ...
    def write(self, facts: Sequence[FactRow], dedup: Sequence[str], decisions: Sequence[DecisionRow]) -> None: ...
    def close(self) -> None: ...


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.executescript(
            """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            CREATE TABLE facts (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, account_id TEXT,
                                type TEXT NOT NULL, message BLOB NOT NULL);
            CREATE TABLE dedup (event_id TEXT PRIMARY KEY) WITHOUT ROWID;
            CREATE TABLE decisions (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, account_id TEXT NOT NULL,
                                    rule TEXT NOT NULL, command BLOB NOT NULL);
            """
        )

    def known(self, event_ids: Sequence[str]) -> set[str]:
        marks = ",".join("?" * len(event_ids))
        return {row[0] for row in self.db.execute(f"SELECT event_id FROM dedup WHERE event_id IN ({marks})", event_ids)}

    def write(self, facts: Sequence[FactRow], dedup: Sequence[str], decisions: Sequence[DecisionRow]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("INSERT INTO facts (event_id, account_id, type, message) VALUES (?, ?, ?, ?)", facts)
        self.db.executemany("INSERT INTO dedup VALUES (?)", [(event_id,) for event_id in sorted(dedup)])
        self.db.executemany(
            "INSERT INTO decisions (event_id, account_id, rule, command) VALUES (?, ?, ?, ?)", decisions
        )
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


class PostgresStore:
    """`lock_facts` takes eventsourcing's EXCLUSIVE lock in each write transaction and times how long it is held."""

    def __init__(self, url: str, *, lock_facts: bool) -> None:
        self.db = psycopg.connect(url)
        self.lock_facts = lock_facts
        self.held: list[float] = []  # seconds from lock acquired to commit done, per batch
        self.db.execute("SET synchronous_commit = on")
        self.db.execute(
            "CREATE TABLE facts (seq bigserial PRIMARY KEY, event_id text NOT NULL, account_id text, "
            "type text NOT NULL, message bytea NOT NULL)"
        )
        self.db.execute("CREATE TABLE dedup (event_id text PRIMARY KEY)")
        self.db.execute(
            "CREATE TABLE decisions (seq bigserial PRIMARY KEY, event_id text NOT NULL, account_id text NOT NULL, "
            "rule text NOT NULL, command bytea NOT NULL)"
        )
        self.db.commit()

    def known(self, event_ids: Sequence[str]) -> set[str]:
        rows = self.db.execute("SELECT event_id FROM dedup WHERE event_id = ANY(%s)", (list(event_ids),)).fetchall()
        self.db.rollback()  # end the read transaction: the write below starts its own
        return {row[0] for row in rows}

    def write(self, facts: Sequence[FactRow], dedup: Sequence[str], decisions: Sequence[DecisionRow]) -> None:
        with self.db.cursor() as cursor:
            cursor.executemany("INSERT INTO dedup VALUES (%s)", [(event_id,) for event_id in dedup])
            cursor.executemany(
                "INSERT INTO decisions (event_id, account_id, rule, command) VALUES (%s, %s, %s, %s)", decisions
            )
            locked_at = time.perf_counter()
            if self.lock_facts:  # last, as eventsourcing takes it: after the engine's own rows, before its events
                cursor.execute("LOCK TABLE facts IN EXCLUSIVE MODE")
                locked_at = time.perf_counter()
            cursor.executemany("INSERT INTO facts (event_id, account_id, type, message) VALUES (%s, %s, %s, %s)", facts)
        self.db.commit()
        self.held.append(time.perf_counter() - locked_at)

    def close(self) -> None:
        self.db.close()


# ---------------------------------------------------------------- the pipeline


@dataclass
class Tally:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    decisions: int = 0
    batches: int = 0


def batches(lines: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    """The lines in transactions of `size`: the floor's, and the engine rows' too, so both cut the workload alike."""
    iterator = iter(lines)
    while batch := list(islice(iterator, size)):
        yield batch


def run(store: Store, lines: Iterable[bytes], batch_size: int = BATCH) -> Tally:
    """Ingest every message: validate, deduplicate, decide, write; one transaction per batch."""
    accounts: dict[str, Account] = {}
    tally = Tally()
    for batch in batches(lines, batch_size):
        with cyclic_gc_paused():
            _batch(store, batch, accounts, tally)
    return tally


def _batch(store: Store, batch: list[bytes], accounts: dict[str, Account], tally: Tally) -> None:
    """One transaction: validate, drop known ids, apply the rule, write every row."""
    events = []
    for line in batch:
        try:
            events.append((_CONTRACT.validate_json(line), line))
        except ValidationError:
            tally.rejected += 1
    seen = store.known([event.event_id for event, _ in events])
    facts: list[FactRow] = []
    decisions: list[DecisionRow] = []
    for event, line in events:
        if event.event_id in seen:
            tally.duplicates += 1
            continue
        seen.add(event.event_id)
        account_id = None if isinstance(event, DayClosed) else event.account_id
        facts.append((event.event_id, account_id, event.type, line))
        if account_id is not None and isinstance(event, OverdueReported | RepaymentReceived):
            account = accounts.setdefault(account_id, Account())
            rule = lock_rule(account, event)
            if rule is not None:
                command = {"type": "LockCard" if account.locked else "UnlockCard", "account_id": account_id}
                decisions.append((event.event_id, account_id, rule, orjson.dumps({"rule": rule, **command})))
    store.write(facts, [event_id for event_id, *_ in facts], decisions)
    tally.accepted += len(facts)
    tally.decisions += len(decisions)
    tally.batches += 1


# ---------------------------------------------------------------- the rows


def _measure(row: str, store: Store, workload: Workload, batch_size: int) -> dict[str, Any]:
    """Time one row on its fresh store: from the first line read (as the engine's bench row does) to the last commit."""
    try:
        started, cpu = time.perf_counter(), time.process_time()
        tally = run(store, workload.lines(), batch_size)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    finally:
        store.close()
    events = tally.accepted + tally.duplicates + tally.rejected
    result: dict[str, Any] = {
        "row": row,
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds, 1),
        "cpu_seconds": round(cpu_seconds, 3),  # this process only: a database server's work is not in it
        "events_per_cpu_second": round(events / cpu_seconds, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "batch_size": batch_size,
        **vars(tally),
    }
    if isinstance(store, PostgresStore) and store.held:
        held = sorted(store.held)
        p50 = statistics.median(held)
        name = "lock_held_ms" if store.lock_facts else "facts_insert_to_commit_ms"
        result[name] = {
            "p50": round(p50 * 1000, 2),
            "p95": round(held[int(0.95 * (len(held) - 1))] * 1000, 2),
            "max": round(held[-1] * 1000, 2),
        }
        result["ceiling_events_per_second"] = round(batch_size / p50, 1)  # one writer at a time, at the median
    return result


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """A floor row of `python -m benchmarks`: floor.sqlite, floor.postgres, floor.postgres.locked, flat.floor.sqlite."""
    data = dict(spec["workload"])
    workload = Workload(**{**data, "path": Path(data["path"])})
    row = spec["row"].removeprefix("flat.").removeprefix("floor.")
    store: Store = (
        SQLiteStore(Path(spec["store"]))
        if row == "sqlite"
        else PostgresStore(spec["store"], lock_facts=row == "postgres.locked")
    )
    result = _measure(row, store, workload, spec["batch_size"])
    del result["row"]  # the bench names its rows itself
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=BATCH, help="events per transaction")
    parser.add_argument("--postgres", metavar="URL|auto", help="a server (a fresh database per row) or 'auto'")
    parser.add_argument("--row", action="append", choices=ROWS, help="run only these rows (default: all it can)")
    parser.add_argument("--workdir", type=Path, default=Path(".bench"), help="where the workload file is (reused)")
    args = parser.parse_args(argv)

    workload = prepare(args.workdir, args.events, args.accounts, args.seed)
    rows = args.row or [row for row in ROWS if args.postgres or row == "sqlite"]
    results = []
    with ExitStack() as stack:
        server = stack.enter_context(postgres_server(args.postgres)) if args.postgres else None
        for row in rows:
            if row == "sqlite":
                with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
                    results.append(_measure(row, SQLiteStore(Path(folder) / "floor.db"), workload, args.batch))
                continue
            if server is None:
                parser.error(f"row {row} needs --postgres")
            with fresh_database(server) as url:
                store = PostgresStore(url, lock_facts=row == "postgres.locked")
                results.append(_measure(row, store, workload, args.batch))
    workload_info = {"events": workload.events, "accounts": workload.accounts, "seed": workload.seed}
    report = {"workload": {**workload_info, "bytes": workload.size_bytes}, "batch": args.batch, "rows": results}
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
