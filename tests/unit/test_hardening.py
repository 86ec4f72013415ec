"""Bounded reading, dead letters of oversized messages, CSV neutralising, the API's pool, masking, local times."""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from adapters.cli.query import local_clock
from adapters.files.export import neutralise, write_csv
from adapters.files.jsonl import PREFIX_BYTES, Oversized, dead_letter_record, read_lines
from adapters.http.limits import MAX_BODY_BYTES, BodyLimit
from adapters.http.pool import ConnectionPool, PoolExhausted
from adapters.kafka.config import PAYLOAD_BYTES_HEADER, PAYLOAD_SHA256_HEADER
from adapters.kafka.dead_letters import MAX_LETTER_BYTES, dead_letter, kept_value
from adapters.runtime.logging import MaskingFilter, mask
from adapters.store.sqlite.projections import SQLiteProjectionDatabase
from adapters.store.tables import ProjectionDatabase
from events.inbound import MAX_EVENT_BYTES
from projections.base import Column, ColumnType, Table

# ---------------------------------------------------------------- bounded lines


def test_a_50_mb_line_is_refused_without_being_read_whole(tmp_path: Path) -> None:
    big = b'{"event_id": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"a": 1}\n' + big + b"\n" + b'{"b": 2}\r\n')
    tracemalloc.start()
    try:
        lines = list(read_lines(str(source)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # the 50 MB line was never in memory (chunks of at most 1 MiB)
    assert lines[0] == b'{"a": 1}' and lines[2] == b'{"b": 2}'
    oversized = lines[1]
    assert isinstance(oversized, Oversized)
    assert oversized.size == len(big) and oversized.sha256 == hashlib.sha256(big).hexdigest()
    assert oversized.prefix == big[:PREFIX_BYTES]
    assert "exceeds the 65536-byte limit" in oversized.refusal.reason and str(len(big)) in oversized.refusal.reason


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b""])
def test_the_limit_is_exact(tmp_path: Path, ending: bytes) -> None:
    at = b"a" * MAX_EVENT_BYTES
    over = b"b" * (MAX_EVENT_BYTES + 1)
    source = tmp_path / "in.jsonl"
    source.write_bytes(at + ending + over + ending + b"c" + ending if ending else over)
    lines = list(read_lines(str(source)))
    if not ending:
        assert isinstance(lines[0], Oversized) and lines[0].size == len(over)
        return
    assert lines[0] == at
    assert isinstance(lines[1], Oversized) and lines[1].size == len(over)
    assert lines[2] == b"c"


def test_the_dead_letter_of_an_oversized_line_keeps_a_prefix_and_the_digest() -> None:
    line = Oversized(b"x" * PREFIX_BYTES, 50_000_000, "ab" * 32)
    record = dead_letter_record(line, line.refusal.reason, "in.jsonl:2", event_id=None)
    assert "payload_masked" not in record and "payload_digest" not in record
    assert record["payload_prefix_masked"] == line.prefix.decode()  # nothing personal to mask in it
    assert (record["payload_bytes"], record["payload_sha256"]) == (50_000_000, "ab" * 32)


def test_a_kafka_dead_letter_keeps_the_bytes_unless_over_its_limit() -> None:
    def record(value: bytes) -> Any:
        return SimpleNamespace(topic="t", partition=0, offset=7, key=b"k", value=value, headers=[])

    small = b"y" * (MAX_EVENT_BYTES + 1)
    assert dead_letter(record(small), "too big", "contract").value == small  # nothing personal to mask in it
    huge = b"z" * (MAX_LETTER_BYTES + 1)
    letter = dead_letter(record(huge), "too big", "contract")
    headers = dict(letter.headers)
    assert letter.value == huge[:PREFIX_BYTES]
    assert headers[PAYLOAD_BYTES_HEADER] == str(len(huge)).encode()
    assert headers[PAYLOAD_SHA256_HEADER] == hashlib.sha256(huge).hexdigest().encode()
    assert kept_value(huge) == f"oversized:{len(huge)}:sha256:{hashlib.sha256(huge).hexdigest()}".encode()
    assert kept_value(small) == small


# ---------------------------------------------------------------- CSV


@pytest.mark.parametrize("text", ["=1+2", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_formula_cells_are_neutralised(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["ACC1", "1-30", "", "note: =x", "'quoted"])
def test_other_text_is_left_alone(text: str) -> None:
    assert neutralise(text) == text


def test_csv_neutralises_text_and_keeps_numbers(tmp_path: Path) -> None:
    table = Table(
        "t",
        "test",
        (
            Column("account_id", ColumnType.TEXT, ""),
            Column("note", ColumnType.TEXT, "", nullable=True),
            Column("balance", ColumnType.MONEY, ""),
            Column("days", ColumnType.INTEGER, ""),
            Column("at", ColumnType.TIMESTAMP, ""),
        ),
        key=("account_id",),
    )
    db = SQLiteProjectionDatabase(str(tmp_path / "s.db"))
    try:
        for statement in db.create_statements(table):
            db.execute(statement)
        db.execute("CREATE TABLE rm_account_status (account_id TEXT PRIMARY KEY, timezone TEXT)")
        db.execute("INSERT INTO rm_account_status VALUES ('A1', 'America/New_York')")
        at = datetime(2026, 9, 11, 1, 0, tzinfo=UTC)
        rows = [
            {"account_id": "A1", "note": "=cmd|' /C calc'!A0", "balance": "-12.50", "days": -3, "at": at},
            {"account_id": "A2", "note": "-minus", "balance": "7.00", "days": 4, "at": at},
        ]
        db.executemany(db.upsert(table), [db.encode_row(table, row) for row in rows])
        out = io.StringIO()
        assert write_csv(db, table, out) == 2
    finally:
        db.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "account_id,note,balance,days,at"
    assert lines[1] == "A1,'=cmd|' /C calc'!A0,-12.50,-3,2026-09-10T21:00:00-04:00"  # numbers stay numbers
    assert lines[2] == "A2,'-minus,7.00,4,2026-09-11T09:00:00+08:00"  # no known account: the portfolio's zone


# ---------------------------------------------------------------- the API's connection pool


class _Db:
    opened = 0
    closed = 0

    def __init__(self) -> None:
        _Db.opened += 1

    def close(self) -> None:
        _Db.closed += 1


def _pool(**kwargs: Any) -> ConnectionPool:
    _Db.opened = _Db.closed = 0
    return ConnectionPool(_Db, **kwargs)  # type: ignore[arg-type, return-value]


def test_the_pool_is_bounded_and_waits_then_gives_up() -> None:
    pool = _pool(size=2, wait_s=0.3)
    held: list[ProjectionDatabase] = []
    with pool.connection() as a, pool.connection() as b:
        held += [a, b]
        started = time.monotonic()
        with pytest.raises(PoolExhausted), pool.connection():
            pass
        assert time.monotonic() - started >= 0.25
        assert pool.open_connections == 2
    with pool.connection() as again:
        assert again in held  # reused, not opened anew
    assert _Db.opened == 2


def test_a_waiting_request_gets_the_connection_another_returns() -> None:
    pool = _pool(size=1, wait_s=5)
    got: list[object] = []
    with pool.connection() as first:
        waiter = threading.Thread(target=lambda: got.append(pool.connection().__enter__()))
        waiter.start()
        time.sleep(0.1)
        assert not got
    waiter.join(5)
    assert got == [first]


def test_idle_connections_are_closed_and_broken_ones_dropped() -> None:
    pool = _pool(size=4, idle_s=0.05)
    with pool.connection(), pool.connection():
        pass
    time.sleep(0.1)
    with pool.connection():  # touching the pool lets the idle ones go
        assert _Db.closed == 2
    assert pool.open_connections == 1
    with pytest.raises(RuntimeError), pool.connection():
        raise RuntimeError("the database went away")
    assert pool.open_connections == 0 and _Db.closed == 3
    with pytest.raises(KeyError), pool.connection(keep=lambda error: isinstance(error, KeyError)):
        raise KeyError("an answer, not a broken connection")
    assert pool.open_connections == 1


# ---------------------------------------------------------------- logs


def test_free_text_and_numbers_are_masked_in_logs() -> None:
    text = mask('{"note": "call Li Wei", "reviewer": "op-zhang", "reason": "lost job"} note=hi phone 13812345678')
    assert "Li Wei" not in text and "op-zhang" not in text and "lost job" not in text and "hi" not in text.split()[-3]
    assert '"note": "***"' in text and '"reviewer": "***"' in text and "***5678" in text


def test_tracebacks_are_masked_too() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("13812345678",), None)
    try:
        raise ValueError("reviewer='Zhang San' phone 13812345678")
    except ValueError:
        import sys  # noqa: PLC0415

        record.exc_info = sys.exc_info()
    MaskingFilter().filter(record)
    assert record.getMessage() == "failed ***5678"
    assert record.exc_text is not None and "Zhang San" not in record.exc_text and "13812345678" not in record.exc_text


# ---------------------------------------------------------------- times


def test_a_time_is_shown_with_its_offset() -> None:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    moment = datetime(2026, 9, 11, 1, 0, tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    assert local_clock(moment) == "2026-09-11 09:00 +08:00"
    assert local_clock(datetime(2026, 9, 11, 1, 0, tzinfo=UTC)) == "2026-09-11 01:00 +00:00"


# ---------------------------------------------------------------- request bodies


def test_request_bodies_are_bounded_while_read() -> None:
    app = FastAPI()
    app.add_middleware(BodyLimit)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    def chunks(total: int) -> Iterator[bytes]:
        sent = 0
        while sent < total:
            piece = min(8192, total - sent)
            sent += piece
            yield b"x" * piece

    with TestClient(app) as client:
        assert client.post("/echo", content=b"x" * MAX_BODY_BYTES).json() == {"bytes": MAX_BODY_BYTES}
        announced = client.post("/echo", content=b"x" * (MAX_BODY_BYTES + 1))
        assert announced.status_code == 413 and announced.json()["status"] == 413
        assert client.post("/echo", content=chunks(1000)).json() == {"bytes": 1000}
        chunked = client.post("/echo", content=chunks(50 * 1024 * 1024))
        assert chunked.status_code == 413
