"""Options and output helpers shared by the CLI commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console

from adapters.bootstrap import open_engine
from adapters.store.sqlite.events import is_postgres, sqlite_path, store_url
from engine.application import RiskEngine
from engine.policy import DEFAULT_POLICY

F = TypeVar("F", bound=Callable[..., Any])
console = Console(stderr=True)


def store_option(command: F) -> F:
    return click.option(
        "--store",
        envvar="FENGKONG_STORE",
        default=None,
        metavar="URL",
        help="Event store: a SQLite file path (default ./fengkong.db) or postgresql://user@host:port/db.",
    )(command)


def policy_option(command: F) -> F:
    return click.option(
        "--policy",
        default=DEFAULT_POLICY,
        show_default=True,
        metavar="NAME|FILE",
        help="Policy version shipped with the engine, or a policy TOML file.",
    )(command)


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(command)


def engine_for(store: str | None, policy: str = DEFAULT_POLICY) -> RiskEngine:
    try:
        return open_engine(store, policy)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None


def default_dead_letter(store: str | None) -> Path:
    """Dead letters go beside a SQLite store, or into the working directory."""
    url = store_url(store)
    if is_postgres(url):
        return Path("fengkong.dead-letter.jsonl")
    path = sqlite_path(url)
    return path.with_name(f"{path.stem}.dead-letter.jsonl")


def emit_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode())
