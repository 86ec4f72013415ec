"""PostgreSQL for rows 2: a fresh database per row on a server the user names,
or on a throwaway server started by the test suite's own service module.
"""

from __future__ import annotations

import contextlib
import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse, urlunparse

import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = REPO_ROOT / "tests" / "support" / "services.py"


class NoPostgres(Exception):
    """No PostgreSQL server for the PostgreSQL rows; the reason is printed."""


def _services() -> ModuleType:
    if not SERVICES.exists():
        raise NoPostgres(f"--postgres auto needs {SERVICES.relative_to(REPO_ROOT)} (a source checkout)")
    spec = importlib.util.spec_from_file_location("fengkong_bench_services", SERVICES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    """The server URL to use: `url` itself, or 'auto' to start and stop a throwaway one."""
    if not url:
        raise NoPostgres("no --postgres URL (give one, or --postgres auto to start a throwaway server)")
    if url != "auto":
        yield url
        return
    server: Any = _services().PostgresServer()
    try:
        server.start()
    except Exception as error:
        raise NoPostgres(f"could not start a throwaway PostgreSQL server: {error}") from error
    try:
        yield server.url
    finally:
        server.close()


def _with_database(url: str, name: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new empty database on the server for one row, dropped afterwards."""
    name = f"fengkong_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
