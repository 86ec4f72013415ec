"""What the emergency brake costs: ingest with its verdicts and without, one writer and two racing for its record.

    python -m benchmarks.brake --events 200000 --accounts 20000 [--postgres URL|auto] [--stores sqlite,postgres]

Two workloads, each ingested with the brake on (default-v1) and off (the same
policy with `brake.enabled = false`: every lock emitted unjudged; the active
count is kept either way):

* `portfolio`: the bench's synthetic portfolio (`--events` of it over
  `--accounts`): a few automatic locks in most batches, the everyday cost;
* `burst`: `--accounts` accounts opened and billed, then `--burst-share` of
  them overdue within one hour of event time (billing's batch, in time
  order): every batch judges locks, most are held, two writers contend at
  the bound.

Each runs with one writer, and with two writer processes splitting the
accounts as two Kafka workers split the partitions (each brings DayClosed to
its own accounts), saving to the same store, so every batch that judges
locks takes the brake's record in turn. A rate is inbound events per second
of wall time from the first batch to the last commit of every writer;
`prepared_again` counts batches prepared a second time under the brake's
lock because the other writer's commit changed a verdict. One JSON line per
row, then a summary table.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import statistics
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from adapters.store.backends import engine_env
from benchmarks.postgres import NoPostgres, fresh_database, postgres_server
from benchmarks.rows import Unsealed
from benchmarks.workload import prepare
from engine.application import RiskEngine
from engine.governance import Requested
from engine.policy import DEFAULT_POLICY, policy_text

BATCH = 2000
CST = timezone(timedelta(hours=8))


class _Flips(logging.Handler):
    """Counts the batches the engine prepares again under the brake's lock (engine.batch logs each)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "preparing it again under the brake" in record.getMessage():
            self.count += 1


def _event(kind: str, event_id: str, account: str, at: datetime, data: dict[str, Any]) -> bytes:
    event = {"event_id": event_id, "type": kind, "account_id": account, "occurred_at": at.isoformat()}
    return orjson.dumps({**event, "schema_version": 1, "data": data})


def burst_lines(accounts: int, share: float) -> list[bytes]:
    """Accounts opened and billed, then `share` of them overdue within one hour, in time order."""
    opened = datetime(2026, 3, 1, 9, tzinfo=CST)
    lines = []
    for n in range(accounts):
        who = f"B{n:07d}"
        data = {"customer_id": f"c{n}", "credit_limit": "3000.00", "card_ref": f"t{n}"}
        lines.append(_event("AccountOpened", f"{who}-o", who, opened, data))
        bill = {"bill_id": f"{who}-b", "amount": "100.00", "due_date": "2026-03-20"}
        lines.append(_event("BillIssued", f"{who}-b", who, opened + timedelta(days=1), bill))
    late = int(accounts * share)
    start = datetime(2026, 3, 21, 2, 30, tzinfo=CST)
    for k in range(late):
        who = f"B{(k * 7919) % accounts:07d}"
        report = {"bill_id": f"{who}-b", "days_past_due": 1, "outstanding": "100.00"}
        lines.append(_event("OverdueReported", f"{who}-d", who, start + timedelta(seconds=3599 * k // late), report))
    return lines


def _mine(line: bytes, writer: int, writers: int) -> bool:
    """Whether a line goes to this writer: its account's (by a stable hash), or every writer's DayClosed."""
    account = orjson.loads(line).get("account_id")
    return account is None or zlib.crc32(account.encode()) % writers == writer


def _write(
    store: str, policy: Requested, lines: list[bytes], writer: int, writers: int, ready: Any, go: Any, done: Any
) -> None:
    """One writer: its share of the lines, in batches; puts the batches it prepared again on `done`."""
    flips = _Flips()
    logging.getLogger("engine.batch").addHandler(flips)
    logging.getLogger("engine.batch").setLevel(logging.INFO)
    engine = RiskEngine(policy, Unsealed(), env=engine_env(store), cache_size=100_000)
    mine = [line for line in lines if _mine(line, writer, writers)]
    scope = (lambda account_id: zlib.crc32(account_id.encode()) % writers == writer) if writers > 1 else None
    ready.wait()
    go.wait()
    for start in range(0, len(mine), BATCH):
        engine.process(mine[start : start + BATCH], day_scope=scope)
    engine.close()
    done.put(flips.count)


def run_row(store: str, policy: Requested, lines: list[bytes], writers: int) -> dict[str, Any]:
    RiskEngine(policy, Unsealed(), env=engine_env(store)).close()  # the tables, before the writers race to make them
    context = multiprocessing.get_context("spawn")
    ready, go, done = context.Barrier(writers + 1), context.Event(), context.Queue()
    processes = [
        context.Process(target=_write, args=(store, policy, lines, n, writers, ready, go, done)) for n in range(writers)
    ]
    for process in processes:
        process.start()
    ready.wait()  # every writer has read its share and opened its engine
    started = time.perf_counter()
    go.set()
    flips = sum(done.get() for _ in processes)
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a writer failed (exit code {process.exitcode})")
    rate = round(len(lines) / elapsed)
    return {"events": len(lines), "seconds": round(elapsed, 2), "events_per_s": rate, "prepared_again": flips}


def _stores(names: list[str], postgres: str | None, folder: Path, stack: ExitStack) -> Iterator[tuple[str, Any]]:
    for name in names:
        if name == "sqlite":
            yield name, lambda tag: str(folder / f"{tag}.db")
            continue
        try:
            server = stack.enter_context(postgres_server(postgres))
        except NoPostgres as why:
            print(orjson.dumps({"store": "postgres", "skipped": str(why)}).decode())
            continue
        yield name, lambda _tag, server=server: stack.enter_context(fresh_database(server))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="events of the synthetic portfolio")
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--burst-share", type=float, default=0.10)
    parser.add_argument("--postgres", default=None, metavar="URL|auto")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--workdir", default=".bench")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each on/off pair, alternating (medians shown)")
    args = parser.parse_args()
    on = Requested.of(policy_text())
    off_text = policy_text().replace(f'"{DEFAULT_POLICY}"', f'"{DEFAULT_POLICY}-brake-off"', 1)
    off = Requested.of(off_text + "\n[brake]\nenabled = false\n")
    workloads = {
        "portfolio": list(prepare(Path(args.workdir), args.events, args.accounts, args.seed).lines()),
        "burst": burst_lines(args.accounts, args.burst_share),
    }
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        for store_name, new_store in _stores(args.stores.split(","), args.postgres, Path(folder), stack):
            for workload, lines in workloads.items():
                for writers in (1, 2):
                    for run in range(args.repeat):  # on and off alternate: the machine's load falls on both
                        for brake, policy in (("on", on), ("off", off)):
                            tag = f"{store_name}-{workload}-{writers}-{brake}-{run}"
                            row: dict[str, Any] = {"store": store_name, "workload": workload, "writers": writers}
                            row.update(brake=brake, run=run, **run_row(new_store(tag), policy, lines, writers))
                            rows.append(row)
                            print(orjson.dumps(row).decode(), flush=True)
    _summary(rows)


def _summary(rows: list[dict[str, Any]]) -> None:
    """Median events/s per row, brake on and off, and what the brake costs."""
    print(f"\n{'store':9} {'workload':10} {'writers':>7} {'on ev/s':>9} {'off ev/s':>9} {'cost':>6} {'again':>6}")
    keys = sorted({(r["store"], r["workload"], r["writers"]) for r in rows}, key=lambda k: (k[0], k[1], k[2]))
    for store, workload, writers in keys:
        same = [r for r in rows if (r["store"], r["workload"], r["writers"]) == (store, workload, writers)]
        on = statistics.median(r["events_per_s"] for r in same if r["brake"] == "on")
        off = statistics.median(r["events_per_s"] for r in same if r["brake"] == "off")
        again = sum(r["prepared_again"] for r in same if r["brake"] == "on")
        print(f"{store:9} {workload:10} {writers:>7} {on:>9.0f} {off:>9.0f} {1 - on / off:>6.1%} {again:>6}")


if __name__ == "__main__":
    main()
