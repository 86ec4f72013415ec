"""CLI queries, projection commands and exports against read models on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from adapters import bootstrap
from adapters.cli import cli
from adapters.settings import Settings
from adapters.store import queries
from adapters.store.tables import ProjectionDatabase
from projections.base import ColumnType
from projections.registry import PUBLIC_TABLES
from tests.integration.test_read_models import run_demo
from tests.support.wiring import tables_at


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        store = str(tmp_path_factory.mktemp("cli") / "store.db")
    else:
        store = request.getfixturevalue("postgres_server").create_database(f"cli_{uuid.uuid4().hex[:12]}")
    run_demo(store, accounts=120, days=90)
    return str(store)


@contextmanager
def opened(store: str) -> Iterator[ProjectionDatabase]:
    db = tables_at(store)
    try:
        yield db
    finally:
        db.close()


def fengkong(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result


def as_json(*args: str) -> Any:
    return json.loads(fengkong(*args, "--json").stdout)


def test_query_commands_mirror_the_api_answers(demo_store: str) -> None:
    with opened(demo_store) as db:
        locked = queries.list_accounts(db, locked=True, limit=1000)
        queue = queries.collection_queue(db, limit=10)
        first = locked.rows[0]["account_id"]
        history = queries.account_history(db, first)
        daily = queries.delinquency_daily(db)
        closed, matrix = queries.roll_rates(db)
        watched = queries.watchlist(db, ended=True, limit=1000)
        rates = queries.notice_rates(db)
    shown = bootstrap.revealer(Settings(store=demo_store))  # the CLI shows sealed personal values opened
    locked, history = shown.reveal(locked), shown.reveal(history)
    shown.close()
    got = as_json("query", "accounts", "--locked", "--limit", "1000", "--store", demo_store)
    assert got["total"] == locked.total and got["items"] == queries.jsonable(locked.rows)
    got = as_json("query", "queue", "--limit", "10", "--store", demo_store)
    assert got["items"] == queries.jsonable(queue.rows)
    got = as_json("query", "account", first, "--store", demo_store)
    assert got["account"]["account_id"] == first and got["history"]["items"] == queries.jsonable(history.rows)
    assert as_json("query", "delinquency", "--store", demo_store) == queries.jsonable(daily)
    got = as_json("query", "roll-rates", "--store", demo_store)
    assert got == {"business_date": queries.jsonable(closed), "matrix": queries.jsonable(matrix)}
    got = as_json("query", "watchlist", "--ended", "--limit", "1000", "--store", demo_store)
    assert watched.rows and got["total"] == watched.total and got["items"] == queries.jsonable(watched.rows)
    assert rates and as_json("query", "notices", "--store", demo_store) == queries.jsonable(rates)


def test_query_commands_print_readable_tables(demo_store: str) -> None:
    assert "accounts" in fengkong("query", "accounts", "--status", "locked", "--store", demo_store).output
    assert "collection queue" in fengkong("query", "queue", "--store", demo_store).output
    assert "roll rates into" in fengkong("query", "roll-rates", "--store", demo_store).output
    assert "accounts per bucket" in fengkong("query", "delinquency", "--store", demo_store).output
    assert "watch list" in fengkong("query", "watchlist", "--ended", "--store", demo_store).output
    assert "promise rate" in fengkong("query", "notices", "--store", demo_store).output
    missing = CliRunner().invoke(cli, ["query", "account", "NOPE", "--store", demo_store])
    assert missing.exit_code == 1 and "no account 'NOPE'" in missing.output


def test_status_and_rebuild_of_one_projection(demo_store: str) -> None:
    with opened(demo_store) as db:
        before = db.table_rows(PUBLIC_TABLES["credit_history"])
    rebuilt = as_json("projections", "rebuild", "credit_history", "--store", demo_store)
    assert rebuilt["projections"] == ["credit_history"] and rebuilt["events"] > 0
    with opened(demo_store) as db:
        assert db.table_rows(PUBLIC_TABLES["credit_history"]) == before
    status = as_json("projections", "status", "--store", demo_store)
    assert all(row["lag_events"] == 0 for row in status)
    unknown = CliRunner().invoke(cli, ["projections", "rebuild", "nonsense", "--store", demo_store])
    assert unknown.exit_code == 2 and "unknown projection" in unknown.output


@pytest.mark.parametrize("name", sorted(PUBLIC_TABLES))
def test_exports_round_trip_exactly(demo_store: str, name: str, tmp_path: Path) -> None:
    table = PUBLIC_TABLES[name]
    with opened(demo_store) as db:
        rows = db.table_rows(table)
    shown = bootstrap.revealer(Settings(store=demo_store))  # exports show sealed personal values opened
    rows = shown.reveal(rows)
    shown.close()
    fengkong("export", name, "--format", "parquet", "-o", str(tmp_path / "t.parquet"), "--store", demo_store)
    fengkong("export", name, "--format", "csv", "-o", str(tmp_path / "t.csv"), "--store", demo_store)
    parquet = pq.read_table(tmp_path / "t.parquet").to_pylist()
    assert len(parquet) == len(rows)
    with (tmp_path / "t.csv").open(newline="") as handle:
        text_rows = list(csv.DictReader(handle))
    assert len(text_rows) == len(rows)
    for row, from_parquet, from_csv in zip(rows, parquet, text_rows, strict=True):
        for column in table.columns:
            value = row[column.name]
            assert _from_parquet(column.type, from_parquet[column.name]) == value, column.name
            assert _from_csv(column.type, from_csv[column.name]) == value, column.name


def _from_parquet(kind: ColumnType, value: Any) -> Any:
    if value is None:
        return None
    if kind is ColumnType.JSON:
        return json.loads(value)
    if kind is ColumnType.TIMESTAMP:
        return value.astimezone(UTC)
    return value


def _from_csv(kind: ColumnType, text: str) -> Any:
    if text == "":
        return None
    parse = {
        ColumnType.INTEGER: int,
        ColumnType.BOOLEAN: lambda t: t == "true",
        ColumnType.MONEY: Decimal,
        ColumnType.TIMESTAMP: lambda t: datetime.fromisoformat(t).astimezone(UTC),
        ColumnType.DATE: lambda t: datetime.fromisoformat(t).date(),
        ColumnType.JSON: json.loads,
        ColumnType.RATIO: float,
    }.get(kind, str)
    return parse(text)
