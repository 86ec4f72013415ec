"""Store URLs: a path means the embedded SQLite store, `postgresql://…` a PostgreSQL database."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse, urlunparse

DEFAULT_STORE = "fengkong.db"


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url.removeprefix("sqlite:"))


def postgres_options(url: str) -> dict[str, str]:
    """fengkong's own query options of a PostgreSQL URL (schema, pool_size, connect_timeout)."""
    return {key: values[-1] for key, values in parse_qs(urlparse(url).query).items()}


def postgres_conninfo(url: str) -> str:
    """A libpq URL without fengkong's own query options."""
    return urlunparse(urlparse(url)._replace(query=""))


def redact(url: str) -> str:
    """The store URL with any password hidden, for logs and messages."""
    parts = urlparse(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url
