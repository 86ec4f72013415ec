"""Options and output helpers shared by the CLI commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from pydantic import ValidationError
from rich.console import Console

from adapters import bootstrap
from adapters.settings import Settings
from adapters.store.urls import is_postgres, sqlite_path
from engine.application import RiskEngine
from engine.documents import Refused

F = TypeVar("F", bound=Callable[..., Any])
console = Console(stderr=True)


def store_option(command: F) -> F:
    return click.option(
        "--store",
        default=None,
        metavar="URL",
        help="Event store: a SQLite file path (default ./fengkong.db, env FENGKONG_STORE) "
        "or postgresql://user@host:port/db.",
    )(command)


def key_option(command: F) -> F:
    return click.option(
        "--key",
        default=None,
        metavar="KEY",
        help="The API key this command acts with (env FENGKONG_KEY, which keeps it out of the process list).",
    )(command)


def policy_option(command: F) -> F:
    return click.option(
        "--policy",
        default=None,
        metavar="NAME|FILE",
        help="Policy version shipped with the engine, or a policy TOML file (env FENGKONG_POLICY). Default: the "
        "store's active policy. On a store without one, its first use records and activates it; any other "
        "than the active one is refused (see `fengkong policy propose`).",
    )(command)


def shadow_option(command: F) -> F:
    return click.option(
        "--shadow",
        default=None,
        metavar="FILE|VERSION",
        help="Also decide every recorded fact under this candidate policy, beside the active one, into the shadow "
        "read model: no command, nothing in the event store (env FENGKONG_SHADOW; `fengkong shadow report`).",
    )(command)


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(command)


def load_settings(**flags: Any) -> Settings:
    """Settings from the environment and the flags given; a wrong value is one line naming the setting."""
    try:
        return Settings.load(**flags)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'settings'}: {item['msg'].removeprefix('Value error, ')}"
            for item in error.errors(include_url=False, include_input=False)
        )
        raise click.ClickException(problems) from None


def open_engine(settings: Settings, *, deciding: bool = False, user: str = "ingest") -> RiskEngine:
    """The engine; `deciding`: it will decide new facts, so its policy must be allowed (one line if not)."""
    try:
        engine = bootstrap.open_engine(settings, user)
        if deciding:
            engine.check_policy()
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    except ValueError as error:
        raise click.ClickException(f"the policy does not validate: {problem_of(error)}") from None
    except Refused as refused:
        raise click.ClickException(refused.reason) from None
    return engine


def problem_of(error: ValueError) -> str:
    """The first problem of a file that does not validate, on one line (the setting named, never its value)."""
    if isinstance(error, ValidationError):
        item = error.errors(include_url=False, include_input=False)[0]
        return f"{'.'.join(str(part) for part in item['loc']) or 'policy'}: {item['msg']}"
    return str(error).splitlines()[0]


def default_dead_letter(settings: Settings) -> Path:
    """Dead letters go beside a SQLite store, or into the working directory."""
    if is_postgres(settings.store):
        return Path("fengkong.dead-letter.jsonl")
    path = sqlite_path(settings.store)
    return path.with_name(f"{path.stem}.dead-letter.jsonl")


def emit_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode())
