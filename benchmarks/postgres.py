"""PostgreSQL for rows 2: a fresh database per row on a server the user names,
or on a throwaway server started by the test suite's own service module.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse, urlunparse

import psycopg
from psycopg import sql

from services import throwaway


class NoPostgres(Exception):
    """No PostgreSQL server for the PostgreSQL rows; the reason is printed."""


@contextlib.contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    """The server URL to use: `url` itself, or 'auto' to start and stop a throwaway one."""
    if not url:
        raise NoPostgres("no --postgres URL (give one, or --postgres auto to start a throwaway server)")
    if url != "auto":
        yield url
        return
    try:
        server = throwaway.PostgresServer()
        server.start()
    except throwaway.ServiceError as error:
        raise NoPostgres(str(error)) from error
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
