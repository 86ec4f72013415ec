"""Operators' mistakes: one line saying what is wrong, and an exit code per kind of mistake.

The one place that maps a kind of mistake to its exit code (docs/reliability.md,
"Operators' mistakes", lists them with their messages). Commands raise
`Mistake` where they check for one; `FengkongGroup` turns the errors that
surface from deeper down (a full disk, a read-only store file, a file that is
not a database, an unreachable server) into the same one-line answers, so no
operator ever sees a traceback for them. click's own usage errors keep 2.
"""

from __future__ import annotations

import errno
import sqlite3
import sys
from enum import IntEnum
from typing import Any

import click

from adapters.privacy.crypto import SealError
from adapters.privacy.master import PrivacyConfigError
from adapters.store.probe import Unreachable


class Exit(IntEnum):
    """Exit codes of `fengkong` (0: done)."""

    FAILED = 1  # a check said no: audit found a difference, reconcile a gap, no such account
    USAGE = 2  # click: an unknown option, a missing argument, a value of the wrong type
    ACCESS_REFUSED = 3  # `fengkong keys`: no key, a revoked key, or a role too low for the request
    BAD_SETTING = 4  # a setting's value is wrong (a malformed database URL among them)
    NO_INPUT = 5  # the input file does not exist
    INPUT_UNREADABLE = 6  # the input file cannot be read (permissions)
    NOT_A_FILE = 7  # a directory given where a file is expected
    NO_STORE = 8  # a read-only command named a store that does not exist
    FOREIGN_STORE = 9  # the store is not a fengkong store (another program's database, or no database)
    STORE_UNWRITABLE = 10  # the store cannot be written (read-only file or directory)
    STORE_UNREACHABLE = 11  # the PostgreSQL server cannot be reached, or refused the login
    NO_OUTPUT_DIR = 12  # the output file's directory does not exist
    OUTPUT_UNWRITABLE = 13  # the output file cannot be written (permissions, or not to stdout)
    DISK_FULL = 14  # no space left on the device (a file or the store)
    DEMO_REFUSED = 15  # `fengkong demo` will not write into a store it did not create
    BROKER_UNREACHABLE = 16  # no Kafka broker answered `topics`, `publish` or `reconcile` (workers and relays wait)


class Mistake(click.ClickException):
    """An operator's mistake: `Error: <message>` on stderr, and the exit code of its kind."""

    def __init__(self, kind: Exit, message: str) -> None:
        super().__init__(message)
        self.exit_code = int(kind)  # type: ignore[misc]  # click reads it per instance
        self.kind = kind


def _sqlite(error: sqlite3.Error) -> Mistake | None:
    text = str(error)
    if "disk is full" in text or getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return Mistake(Exit.DISK_FULL, "the disk holding the store is full")
    if "readonly database" in text or "unable to open database file" in text:
        return Mistake(Exit.STORE_UNWRITABLE, "the store cannot be written (a read-only file or directory?)")
    if "not a database" in text:
        return Mistake(Exit.FOREIGN_STORE, "the store is not an SQLite database")
    return None


def translate(error: BaseException) -> Mistake | None:
    """The operator's mistake an error from deep down stands for, if it stands for one."""
    for cause in _chain(error):
        if isinstance(cause, Mistake):
            return cause
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            where = f" ({cause.filename})" if cause.filename else ""
            return Mistake(Exit.DISK_FULL, f"no space left on the device{where}")
        if isinstance(cause, sqlite3.Error) and (found := _sqlite(cause)) is not None:
            return found
        if isinstance(cause, (PrivacyConfigError, SealError)):
            return Mistake(Exit.BAD_SETTING, str(cause))
        if isinstance(cause, Unreachable):
            return Mistake(Exit.STORE_UNREACHABLE, f"cannot reach the PostgreSQL store: {cause}")
        if _kafka_unreachable(cause):
            return Mistake(Exit.BROKER_UNREACHABLE, "cannot reach a Kafka broker (check --bootstrap-servers)")
        if (found := _postgres(cause)) is not None:
            return found
    return None


def _postgres(cause: BaseException) -> Mistake | None:
    """A full disk or an unreachable server, from psycopg: asked only if a command loaded it, as below."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return None
    if isinstance(cause, psycopg.errors.DiskFull):
        return Mistake(Exit.DISK_FULL, "the disk holding the store is full")
    if (getattr(cause, "sqlstate", None) or "").startswith("40"):
        return None  # a transaction rolled back (deadlock, serialization): the server answered, the code is at fault
    if isinstance(cause, psycopg.OperationalError):
        return Mistake(Exit.STORE_UNREACHABLE, "cannot reach the PostgreSQL store (check host, port and login)")
    return None


def _kafka_unreachable(cause: BaseException) -> bool:
    """No broker answered. Asked of the Kafka client only if a command loaded it: only then can it have failed
    (importing it here would cost every command its start-up time)."""
    client = sys.modules.get("adapters.kafka.client")
    if client is None:
        return False
    return isinstance(cause, client.KafkaConnectionError) or (
        isinstance(cause, client.KafkaTimeoutError) and "bootstrap" in str(cause)
    )


def _chain(error: BaseException) -> list[BaseException]:
    """The error and what caused it (eventsourcing wraps the database's errors in its own)."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


class FengkongGroup(click.Group):
    """The root command group: known mistakes from anywhere below end as one line and their code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except Exception as error:
            mistake = translate(error)
            if mistake is None:
                raise
            raise mistake from None
