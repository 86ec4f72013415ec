"""docs/read-models.md, generated from the table definitions so the two never drift.

Run `python -m projections.docs` to rewrite the file; a test checks it is current.
"""

from __future__ import annotations

from pathlib import Path

from projections.base import ColumnType, Table
from projections.registry import PROJECTIONS

TYPES = {
    ColumnType.TEXT: ("text", "TEXT"),
    ColumnType.INTEGER: ("bigint", "INTEGER"),
    ColumnType.BOOLEAN: ("boolean", "INTEGER 0/1"),
    ColumnType.MONEY: ("numeric(20,2)", "TEXT, exact decimal"),
    ColumnType.TIMESTAMP: ("timestamptz", "TEXT, UTC `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`"),
    ColumnType.DATE: ("date", "TEXT `YYYY-MM-DD`"),
    ColumnType.JSON: ("jsonb", "TEXT, JSON"),
    ColumnType.RATIO: ("double precision", "REAL"),
}

INTRO = """\
# Read models

Analysts answer portfolio and account questions from these tables, never
from the event store's streams. They live in the store's own database, named
`rm_<name>` (in the store's schema on PostgreSQL), and are kept by the
projections in `projections/` (pure logic), run by `projections/runner.py`
over the ports the store implements (`adapters/store/projection_store.py`).

How they stay right:

- **Exactly once.** Each projection's position (the last notification id of
  the engine's event store it applied) is in `rm_positions`, written in the
  same transaction as the rows. A page of notifications is applied only if the
  positions are still the ones it started from, so a crash or a second runner
  never applies an event twice or skips one.
- **Restartable and live.** `fengkong projections catch-up` applies what is
  new and stops; `fengkong projections follow` and `fengkong serve` keep
  polling the notification log (eventsourcing's SQLite recorder cannot be
  subscribed to, so both databases are polled; 0.2 s by default).
- **Rebuildable.** `fengkong projections rebuild [NAME]` drops the tables and
  applies the whole store again; a rebuild yields exactly the rows live
  processing did (a property test checks it). A projection whose `version`
  changes in the code is rebuilt automatically on the next run. Up to the
  store's head at its start a rebuild keeps the rows in memory and writes
  them with one `executemany` per table (in key order; the append-only
  timelines by plain inserts), together with its position, on a connection
  given a 256 MiB page cache for the load and the index builds after it;
  every 100,000 stored events, a projection holding more than 300,000 rows
  (the per-event timelines; at 1,000,000 events the working rows of 100,000
  accounts stay under it) is written out and leaves memory, so each holds
  at most about that many rows plus what 100,000 events add (the benchmark's
  rebuild row reports the peak RSS, docs/benchmarks.md). The rows of the
  append-only timelines (credit_history, decisions) are never read back, so
  they are only kept until written. Each stored event is decoded once per
  process, only into the kinds its projections read (`Projection.reads`),
  and a fact's model is built only for a projection that reads its data
  (its type, id and time come from the stored JSON). The read models stay
  in the store's database (analysts' SQL and the API read them there), so a
  rebuild writes through the store's WAL like any writer: it is not written
  to a separate unjournalled file and swapped in. `--jobs N` (one per core by default)
  splits the projections into at most N groups of about equal cost and rebuilds each
  group in a process of its own. A read model is never split, so the heaviest
  (credit_history, about 38% of the cost) bounds a rebuild: with today's eight,
  three processes do all that more can, and the command starts no more than
  that (each process reads and decodes the whole log; on this machine's two
  cores `--jobs 8` took 18.1–20.2 s when it started eight, 10.5–12.5 s with
  three, on a 100,000-event store). A process that dies leaves its projections
  at their last committed position, and `catch-up` carries them on. A
  rebuild of named read models touches only those, its final catch-up
  included: the others stay where they were, and `catch-up` brings them on.
- **Caught up the quick way when they never ran.** `fengkong projections
  catch-up` (and `follow`'s first catch-up, and `fengkong demo`) loads the
  read models that have applied nothing yet (a store whose read models
  never ran, or one new in this version) as `rebuild` loads them, in
  memory and on `--jobs` processes; the rest go on page by page from
  their positions, as a follower does. On a 100,000-event store whose read
  models never ran, `catch-up` took 19.3–21.4 s page by page, 7.3–8.5 s
  loaded on one process (`--jobs 1`) and 5.4–6.7 s on two, with the same
  rows (every table compared); the demo's read models (456,204 events) 101.5 s against
  36.6 s, the whole `fengkong demo --no-score` 223 s against 151 s (a slow
  hour: the 20M-loop speed check 2.2–2.3 s). The command says which it
  loaded (`loaded` in its JSON). `fengkong serve`'s follower does the same
  before it follows, on one process (its own thread): page by page, a read
  model at position 0 holds back every other one too, since a page starts
  at the lowest position. Until the load commits, `GET /projections` shows
  those read models at position 0 with their lag; one log line says when
  they are in.
- `fengkong projections status` shows each projection's position, the store's
  head and the lag (events, and the age in seconds of the oldest event not yet
  applied).

Ways in: SQL on the tables below; the HTTP API of `fengkong serve` (an
analyst key: docs/operations.md; OpenAPI at `/openapi.json`, charts at
the risk console at `/console`); `fengkong query accounts|account|
queue|delinquency|roll-rates` (tables, or `--json`); `fengkong export NAME
--format csv|parquet`.

Types: money is exact (PostgreSQL `numeric`; SQLite keeps the decimal text,
so cast for arithmetic there: `CAST(overdue_outstanding AS REAL)`); times
are stored in UTC; personal data (phone, card reference) is never copied
into a read model, and the personal values that are (a customer id, free
text) are stored sealed and shown opened ([privacy.md](privacy.md)).

### Times people read

Every time shown to a person carries its zone, and it is the zone of the
account it belongs to: the `timezone` its `AccountOpened` recorded
(`account_status.timezone`), or the portfolio's default `Asia/Shanghai` for
a time that belongs to no known account. A bare UTC time is never shown
beside a local one.

- HTTP API and `--json`: RFC 3339 with the offset, in the account's zone
  (`2026-09-11T09:00:00+08:00`: the lock of a bill reported at 09:00 in
  Shanghai, stored as 01:00 UTC).
- CLI tables: `2026-09-11 09:00 +08:00`.
- CSV exports: RFC 3339 with the offset, in the account's zone, like the API.
- Parquet exports: timestamps typed with their zone, UTC (one zone per
  column is all Parquet has); convert with the account's `timezone`.
- SQL on the tables: UTC (`timestamptz` on PostgreSQL; on SQLite text ending
  in `+00:00`).
- Dates (due dates, business dates, review deadlines) are calendar dates of
  the platform and carry no zone.

### Free text: personal-data candidates

Three contract fields are written by people and may name a customer or an
operator: `UnlockReviewed.data.note`, `UnlockReviewed.data.reviewer` and
`RepaymentReversed.data.reason` (also the `reason` of `FactRetracted` when
it arrives). The tables hold them sealed under the customer's key, and every
way out shows them opened, or `forgotten` once the customer was forgotten
([privacy.md](privacy.md)). They are never logged (the log filter,
`adapters/runtime/logging.py`, masks the value after any of these keys, and
phone and card numbers, even in tracebacks). Where they appear:

- `rm_credit_history.description`: the sentence of a reversal (`… reversed:
  <reason>`) and of a review (`Reviewer <reviewer> approved …: <note>`), and
  of the decisions that cite the reviewer;
- `rm_decisions.facts`: the facts a review rule saw, `reviewer` among them
  for reviews recorded before sealing (a new decision holds no personal
  value; a `reason` there is the engine's own words, never a person's);
- exports and the API, as far as they show those two tables: `fengkong
  export credit_history` and `decisions`, `GET /accounts/{account_id}`,
  `/history` and `/decisions`;
- the event store: the facts as recorded (`fengkong_inbound` holds only
  digests).

Nothing else in the read models holds them.

### CSV exports in spreadsheets

`fengkong export NAME --format csv` writes text cells that begin with `=`,
`+`, `-`, `@`, a tab or a carriage return with a leading single quote
(OWASP's rule against CSV injection: a spreadsheet would otherwise run them
as formulas). Only text and JSON columns are touched: money, integers and
ratios (negative balances too) stay numbers. `-o -` writes CSV to stdout;
Parquet needs a file and is refused there.

| logical type | PostgreSQL | SQLite |
|---|---|---|
""" + "".join(f"| {kind.value} | {pg} | {lite} |\n" for kind, (pg, lite) in TYPES.items())


def _table(table: Table) -> str:
    lines = [
        f"### `rm_{table.name}`{' (working state)' if table.internal else ''}",
        "",
        table.doc,
        "",
        f"Key: {', '.join(f'`{k}`' for k in table.key)}.",
        "",
        "| column | type | null | meaning |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{c.name}` | {c.type.value} | {'yes' if c.nullable else 'no'} | {c.doc} |" for c in table.columns]
    return "\n".join(lines) + "\n"


def render_docs() -> str:
    parts = [INTRO]
    for projection in PROJECTIONS:
        parts.append(f"\n## Projection `{projection.name}` (version {projection.version})\n\n{projection.doc}\n")
        parts += [f"\n{_table(table)}" for table in projection.tables]
    parts.append(
        "\n## `rm_positions`\n\n"
        "| column | meaning |\n|---|---|\n"
        "| `projection` | projection name |\n"
        "| `version` | the projection's version when its tables were built |\n"
        "| `position` | last notification id applied (0: nothing yet) |\n"
        "| `updated_at` | wall-clock time of the last change (UTC) |\n"
    )
    return "".join(parts)


if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "docs" / "read-models.md"
    target.write_text(render_docs())
    print(f"wrote {target}")
