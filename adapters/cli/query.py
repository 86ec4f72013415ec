"""`fengkong query …` and `fengkong export`: the read models from the command line.

The query commands mirror the HTTP API (same filters, same JSON with
`--json`) and read only the read-model tables, never the event store's
streams; they warn when the read models lag behind the store.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table as RichTable

from adapters import bootstrap
from adapters.cli.common import (
    check_output,
    console,
    emit_json,
    json_option,
    load_settings,
    progress_console,
    require_store,
    store_option,
)
from adapters.cli.errors import Exit, Mistake
from adapters.files.export import write_csv, write_parquet
from adapters.privacy.reveal import Revealer
from adapters.settings import Settings
from adapters.store import queries
from adapters.store.tables import POSITIONS, ProjectionDatabase
from events.recorded import DELINQUENCY_BUCKETS
from projections.base import Row
from projections.registry import PUBLIC_TABLES, TABLES


@contextmanager
def read_models(store: str | None) -> Iterator[tuple[ProjectionDatabase, Revealer]]:
    """The read-model database and what opens its sealed values; warns on stderr when the read models lag."""
    settings = load_settings(store=store)
    require_store(settings)
    db = bootstrap.open_tables(settings)
    shown = bootstrap.revealer(settings)
    try:
        if not db.has_table(POSITIONS):
            raise Mistake(Exit.FAILED, "no read models in this store yet: run `fengkong projections catch-up`")
        _warn_if_behind(db, settings)
        yield db, shown
    finally:
        shown.close()
        db.close()


def _warn_if_behind(db: ProjectionDatabase, settings: Settings) -> None:
    log = bootstrap.open_log(settings)
    try:
        head = log.head()
    finally:
        log.close()
    position = min((int(row[0]) for row in db.query(f"SELECT position FROM {POSITIONS}")), default=0)
    if position < head:
        progress_console.print(
            f"[yellow]read models are {head - position} stored events behind the store: "
            "run `fengkong projections catch-up` (or keep `fengkong serve` running)[/yellow]"
        )


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return local_clock(value)
    if isinstance(value, float):
        return f"{value:.1%}"
    return str(value)


def local_clock(moment: datetime) -> str:
    """`2026-09-11 09:00 +08:00`: a time as people read it, never without its offset."""
    offset = moment.strftime("%z")  # +0800
    return f"{moment:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}" if offset else moment.isoformat()


def _table(title: str, rows: Sequence[Row], columns: Sequence[str]) -> None:
    table = RichTable(*columns, title=title)
    for row in rows:
        table.add_row(*(_text(row.get(column)) for column in columns))
    console.print(table)


def _page_json(page: queries.Page) -> dict[str, Any]:
    return {
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
        "items": queries.jsonable(page.rows),
    }


@click.group()
def query() -> None:
    """Ask the read models: accounts, one account, the collection queue, delinquency, roll rates."""


@query.command("accounts")
@click.option("--status", type=click.Choice(queries.STATUSES), default=None)
@click.option("--bucket", type=click.Choice(DELINQUENCY_BUCKETS), default=None)
@click.option("--locked/--unlocked", default=None, help="Only accounts whose card is (not) locked.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, queries.MAX_PAGE))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@store_option
@json_option
def accounts(
    status: str | None,
    bucket: str | None,
    locked: bool | None,
    limit: int,
    offset: int,
    store: str | None,
    as_json: bool,
) -> None:
    """Accounts filtered by status, delinquency bucket and lock, a page at a time."""
    with read_models(store) as (db, shown):
        page = shown.reveal(queries.list_accounts(db, status, bucket, locked, limit, offset))
    if as_json:
        emit_json(_page_json(page))
        return
    columns = ("account_id", "status", "card_locked", "credit_limit", "overdue_outstanding", "days_past_due",
               "delinquency_bucket", "active_plan_id", "score")  # fmt: skip
    _table(f"accounts {offset + 1}-{offset + len(page.rows)} of {page.total}", page.rows, columns)


@query.command("account")
@click.argument("account_id")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, queries.MAX_PAGE),
              help="At most this many history entries and decisions.")  # fmt: skip
@store_option
@json_option
def account(account_id: str, limit: int, store: str | None, as_json: bool) -> None:
    """One account's status with its credit history and decisions."""
    with read_models(store) as (db, shown):
        row = shown.reveal(queries.get_account(db, account_id))
        if row is None:
            raise Mistake(Exit.FAILED, f"no account {account_id!r} in the read models")
        history = shown.reveal(queries.account_history(db, account_id, limit))
        decisions = shown.reveal(queries.account_decisions(db, account_id, limit))
    if as_json:
        emit_json(
            {"account": queries.jsonable(row), "history": _page_json(history), "decisions": _page_json(decisions)}
        )
        return
    status = RichTable(show_header=False, title=f"account {account_id}")
    for key, value in row.items():
        status.add_row(key, _text(value))
    console.print(status)
    _table("credit history", history.rows, ("occurred_at", "entry", "description"))
    _table("decisions", decisions.rows, ("occurred_at", "rule", "command_type", "cause_event_id"))


@query.command("queue")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, queries.MAX_PAGE))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@click.option(
    "--min-days", default=0, show_default=True, type=click.IntRange(0), help="Only this many days past due or more."
)
@store_option
@json_option
def queue(limit: int, offset: int, min_days: int, store: str | None, as_json: bool) -> None:
    """The collection queue, most urgent first (days past due, amount, broken plans)."""
    with read_models(store) as (db, _):
        page = queries.collection_queue(db, limit, offset, min_days)
    if as_json:
        emit_json(_page_json(page))
        return
    columns = ("rank", "account_id", "days_past_due", "overdue_outstanding", "broken_plans", "card_locked",
               "last_notice_template", "last_notice_at", "last_outcome", "promise_amount", "promise_date")  # fmt: skip
    _table(f"collection queue ({page.total} accounts)", page.rows, columns)


@query.command("watchlist")
@click.option("--ended", is_flag=True, help="Also the watches that ended (the account went overdue, or repaid).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, queries.MAX_PAGE))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@store_option
@json_option
def watchlist(ended: bool, limit: int, offset: int, store: str | None, as_json: bool) -> None:
    """The early-warning watch list: accounts with a signal before their due date, the reason and since when."""
    with read_models(store) as (db, _):
        page = queries.watchlist(db, ended, limit, offset)
    if as_json:
        emit_json(_page_json(page))
        return
    columns = ("account_id", "status", "since", "reason", "signals", "reminders", "ended_at")
    _table(f"watch list ({page.total} accounts)", page.rows, columns)


@query.command("notices")
@store_option
@json_option
def notices(store: str | None, as_json: bool) -> None:
    """Notice outcomes per template and channel: contact rate, promise rate, promise-kept rate."""
    with read_models(store) as (db, _):
        rows = queries.notice_rates(db)
    if as_json:
        emit_json(queries.jsonable(rows))
        return
    table = RichTable("template", "channel", "sent", "contact rate", "promise rate", "kept", "broken", "kept rate")
    for row in rows:
        table.add_row(
            row["template"],
            row["channel"],
            str(row["sent"]),
            *(_rate(row[name]) for name in ("contact_rate", "promise_rate")),
            str(row["kept"]),
            str(row["broken"]),
            _rate(row["promise_kept_rate"]),
        )
    console.print(table)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


@query.command("delinquency")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First business date.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last business date.")
@store_option
@json_option
def delinquency(start: datetime | None, end: datetime | None, store: str | None, as_json: bool) -> None:
    """Accounts and balances per delinquency bucket for each closed business date."""
    with read_models(store) as (db, _):
        rows = queries.delinquency_daily(db, _day(start), _day(end))
    if as_json:
        emit_json(queries.jsonable(rows))
        return
    by_date: dict[date, dict[str, Row]] = {}
    for row in rows:
        by_date.setdefault(row["business_date"], {})[row["bucket"]] = row
    table = RichTable("business date", *DELINQUENCY_BUCKETS, "overdue balance", "cured", title="accounts per bucket")
    for day, buckets in by_date.items():
        overdue = sum(row["overdue_balance"] for row in buckets.values())
        table.add_row(
            day.isoformat(),
            *(str(buckets[b]["accounts"]) for b in DELINQUENCY_BUCKETS),
            str(overdue),
            str(sum(row["cured"] for row in buckets.values())),
        )
    console.print(table)


@query.command("roll-rates")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Business date (default: latest).")
@store_option
@json_option
def roll_rates(day: datetime | None, store: str | None, as_json: bool) -> None:
    """The roll-rate matrix from the previous closed date into this one."""
    with read_models(store) as (db, _):
        closed, rows = queries.roll_rates(db, _day(day))
    if as_json:
        emit_json({"business_date": queries.jsonable(closed), "matrix": queries.jsonable(rows)})
        return
    if closed is None:
        click.echo("no business date closed yet")
        return
    cells = {(row["from_bucket"], row["to_bucket"]): row for row in rows}
    table = RichTable("from \\ to", *DELINQUENCY_BUCKETS, title=f"roll rates into {closed}")
    for source in ("new", *DELINQUENCY_BUCKETS):
        line = []
        for target in DELINQUENCY_BUCKETS:
            cell = cells.get((source, target))
            if cell is None:
                line.append("")
            elif cell["rate"] is None:
                line.append(str(cell["accounts"]))
            else:
                line.append(f"{cell['accounts']} ({cell['rate']:.1%})")
        table.add_row(source, *line)
    console.print(table)


def _day(value: datetime | None) -> date | None:
    return None if value is None else value.date()


@click.command(
    help="Export a read-model table to CSV or Parquet.\n\nNAME is one of: "
    + ", ".join(sorted(PUBLIC_TABLES))
    + " (or a projection's working table)."
)
@click.argument("name", type=click.Choice(sorted(TABLES)), metavar="NAME")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File to write (default: NAME.csv / NAME.parquet; '-': CSV on stdout, refused for Parquet).",
)
@store_option
def export(name: str, fmt: str, output: Path | None, store: str | None) -> None:
    table = TABLES[name]
    to_stdout = output == Path("-")
    if to_stdout and fmt == "parquet":
        raise Mistake(Exit.OUTPUT_UNWRITABLE, "Parquet is not written to stdout (it needs a file): give -o FILE")
    target = output or Path(f"{name}.{fmt}")
    if not to_stdout:
        check_output(target)
    with read_models(store) as (db, shown):
        if to_stdout:
            count = write_csv(db, table, sys.stdout, shown.reveal)
            click.echo(f"{count} rows", err=True)
            return
        if fmt == "csv":
            with target.open("w", newline="", encoding="utf-8") as out:
                count = write_csv(db, table, out, shown.reveal)
        else:
            count = write_parquet(db, table, target, shown.reveal)
    click.echo(f"{count} rows of {name} written to {target}", err=True)
