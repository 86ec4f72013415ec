"""Options and output helpers shared by the CLI commands."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from pydantic import ValidationError
from rich.console import Console

from adapters import bootstrap
from adapters.cli.errors import Exit, Mistake
from adapters.settings import Settings
from adapters.store.probe import Found, Probe, Unreachable, probe
from adapters.store.urls import is_postgres, redact, sqlite_path
from engine.application import RiskEngine
from engine.documents import Refused

F = TypeVar("F", bound=Callable[..., Any])
progress_console = Console(stderr=True)
"""Progress bars, warnings and notes: stderr, so that stdout holds only results."""


def _results_console() -> Console:
    """Tables go to stdout; piped or redirected, they are never cut to 80 columns (or use --json)."""
    found = Console()
    return found if found.is_terminal else Console(width=1000, soft_wrap=True)


console = _results_console()


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


def kafka_logs_of_a_service() -> None:
    """Services log their progress at INFO; kafka-python's per-connection chatter stays at WARNING."""
    root = logging.getLogger()
    verbose = root.level < logging.INFO
    root.setLevel(min(root.level, logging.INFO))
    if not verbose:
        logging.getLogger("kafka").setLevel(logging.WARNING)


def kafka_logs_of_a_one_shot_command() -> None:
    """A one-shot command answers for its Kafka client in one line: the client's retry chatter stays out.

    kafka-python logs every refused connection at ERROR while it bootstraps; a service keeps those
    lines (they date an outage), a command that ends at once says what failed itself. `-v` shows them.
    """
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


def load_settings(**flags: Any) -> Settings:
    """Settings from the environment and the flags given; a wrong value is one line naming the setting.

    The line never repeats a value (a store URL may hold a password, even a malformed one).
    """
    try:
        return Settings.load(**flags)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'settings'}: {item['msg'].removeprefix('Value error, ')}"
            for item in error.errors(include_url=False, include_input=False, include_context=False)
        )
        raise Mistake(Exit.BAD_SETTING, problems) from None


def open_engine(settings: Settings, *, deciding: bool = False, user: str = "ingest") -> RiskEngine:
    """The engine; `deciding`: it will decide new facts, so its policy must be allowed (one line if not)."""
    try:
        engine = bootstrap.open_engine(settings, user)
    except FileNotFoundError as error:
        raise Mistake(Exit.BAD_SETTING, str(error)) from None
    except ValueError as error:
        raise Mistake(Exit.BAD_SETTING, f"the policy does not validate: {problem_of(error)}") from None
    if deciding:
        try:
            engine.check_policy()
        except Refused as refused:
            engine.close()  # the store stays as it was (SQLite's WAL files go with the connection)
            raise Mistake(Exit.BAD_SETTING, refused.reason) from None
    return engine


def problem_of(error: ValueError) -> str:
    """The first problem of a file that does not validate, on one line (the setting named, never its value)."""
    if isinstance(error, ValidationError):
        item = error.errors(include_url=False, include_input=False)[0]
        return f"{'.'.join(str(part) for part in item['loc']) or 'policy'}: {item['msg']}"
    return str(error).splitlines()[0]


def _probe(settings: Settings) -> Probe:
    try:
        return probe(settings.store)
    except Unreachable as error:
        raise Mistake(Exit.STORE_UNREACHABLE, f"cannot reach the store at {redact(settings.store)}: {error}") from None


def require_store(settings: Settings) -> None:
    """For commands that only read: the store must exist (they never create one where a path was mistyped)."""
    found = _probe(settings)
    if found.found in (Found.NOTHING, Found.EMPTY):
        raise Mistake(Exit.NO_STORE, f"no store at {redact(settings.store)}")
    if found.found is Found.FOREIGN:
        raise Mistake(Exit.FOREIGN_STORE, f"{redact(settings.store)} is not a fengkong store ({found.why})")


def writable_store(settings: Settings) -> None:
    """For commands that write: a fengkong store or nothing yet, and (SQLite) a file and folder we may write."""
    found = _probe(settings)
    if found.found is Found.FOREIGN:
        raise Mistake(Exit.FOREIGN_STORE, f"{redact(settings.store)} is not a fengkong store ({found.why})")
    if is_postgres(settings.store):
        return
    path = sqlite_path(settings.store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.open("r+b").close()
    except PermissionError:
        raise Mistake(Exit.STORE_UNWRITABLE, f"cannot write the store {path} (permission denied)") from None
    except NotADirectoryError:
        raise Mistake(Exit.NOT_A_FILE, f"cannot make the store {path}: a file stands where a folder should") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):  # SQLite writes its -wal and -shm files beside the store
        raise Mistake(Exit.STORE_UNWRITABLE, f"cannot write in {path.parent} (permission denied)")


def check_input(source: str) -> None:
    """An input file (or - for stdin) that exists, is a file, and may be read."""
    if source == "-":
        return
    path = Path(source)
    if not path.exists():
        raise Mistake(Exit.NO_INPUT, f"no file {source}")
    if path.is_dir():
        raise Mistake(Exit.NOT_A_FILE, f"{source} is a directory, not a file")
    try:
        path.open("rb").close()
    except PermissionError:
        raise Mistake(Exit.INPUT_UNREADABLE, f"cannot read {source} (permission denied)") from None


def check_output(path: Path) -> None:
    """An output file whose folder exists and that may be written (checked before any work is done)."""
    if path.is_dir():
        raise Mistake(Exit.NOT_A_FILE, f"{path} is a directory, not a file")
    if not path.parent.is_dir():
        raise Mistake(Exit.NO_OUTPUT_DIR, f"no directory {path.parent} for {path.name}")
    writable = os.access(path, os.W_OK) if path.exists() else os.access(path.parent, os.W_OK | os.X_OK)
    if not writable:
        raise Mistake(Exit.OUTPUT_UNWRITABLE, f"cannot write {path} (permission denied)")


def default_dead_letter(settings: Settings) -> Path:
    """Dead letters go beside a SQLite store, or into the working directory."""
    if is_postgres(settings.store):
        return Path("fengkong.dead-letter.jsonl")
    path = sqlite_path(settings.store)
    return path.with_name(f"{path.stem}.dead-letter.jsonl")


def emit_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode())
