"""`fengkong privacy`: forget a customer, export what is held on one, rotate the master key (admin).

The key acting is `--key` or FENGKONG_KEY. Results on stdout (JSON), notes on stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from adapters import bootstrap
from adapters.access.keys import AccessRefused, Principal, Role
from adapters.cli.common import emit_json, key_option, load_settings, progress_console, require_store, store_option
from adapters.cli.errors import Exit, Mistake
from adapters.cli.keys import Refused
from adapters.privacy.crypto import MasterKey
from adapters.privacy.master import read_key_file, write_key_file
from adapters.privacy.operations import NothingToForget, export, forget, holdings
from adapters.settings import Settings
from adapters.store import queries
from adapters.store.tables import POSITIONS


def admin(settings: Settings) -> Principal:
    """The admin acting (`--key` / FENGKONG_KEY); refused: one line, exit 3."""
    keys = bootstrap.open_keys(settings)
    try:
        return keys.authorize(settings.key.get_secret_value() if settings.key else None, Role.ADMIN)
    except AccessRefused as refused:
        raise Refused(f"{refused}: give an admin's --key or set FENGKONG_KEY") from None
    finally:
        keys.store.db.close()


@contextmanager
def _opened(settings: Settings) -> Iterator[tuple[Any, Any]]:
    keys = bootstrap.open_key_ring(settings)
    records = bootstrap.privacy_records(settings)
    try:
        yield keys, records
    finally:
        keys.close()
        records.close()


@click.group()
def privacy() -> None:
    """Personal data: forget a customer, export what is held on one, rotate the master key (docs/privacy.md)."""


@privacy.command("forget")
@click.argument("customer_id")
@click.option("--reason", required=True, help="Why (recorded with the actor, sealed): a request number, a law.")
@key_option
@store_option
def forget_command(customer_id: str, reason: str, key: str | None, store: str | None) -> None:
    """Delete a customer's key: their personal data reads "forgotten" everywhere; every decision still replays."""
    settings = load_settings(store=store, key=key)
    require_store(settings)
    actor = admin(settings)
    with _opened(settings) as (keys, records):
        try:
            done = forget(keys, records, customer_id, actor.name, actor.key_id, reason)
        except NothingToForget as error:
            raise Mistake(Exit.FAILED, str(error)) from None
    if done["unsealed_accounts"]:
        progress_console.print(
            f"note: {len(done['unsealed_accounts'])} account(s) of this customer were recorded before personal "
            "data was sealed; their first facts keep plain values (docs/privacy.md, stores written before sealing)"
        )
    emit_json({"forgotten": True, **done})


@privacy.command("export")
@click.argument("customer_id")
@key_option
@store_option
def export_command(customer_id: str, key: str | None, store: str | None) -> None:
    """Everything the engine holds on one customer, as JSON on stdout (the right of access)."""
    settings = load_settings(store=store, key=key)
    require_store(settings)
    admin(settings)
    with _opened(settings) as (keys, records):
        held = holdings(keys, records, customer_id)
    engine = bootstrap.open_engine(settings)
    db = bootstrap.open_tables(settings)
    revealer = bootstrap.revealer(settings)
    try:
        rows: dict[str, Any] = {}
        if db.has_table(POSITIONS):
            for account_id in held.accounts:
                history = queries.account_history(db, account_id, limit=10_000)
                rows[account_id] = {
                    "account_status": queries.get_account(db, account_id),
                    "credit_history": history.rows,
                }
        found = export(held, engine.recorded_histories(held.accounts), rows)
        emit_json(revealer.reveal(queries.jsonable(found)))  # the customer id only where the store holds it
    finally:
        db.close()
        revealer.close()
        engine.close()


@privacy.command("rotate")
@click.option("--retire", is_flag=True, help="Finish: rewrap what a previous master key still wraps, then drop it.")
@key_option
@store_option
def rotate_command(retire: bool, key: str | None, store: str | None) -> None:
    """Rotate the master key while everything runs.

    With a key file (a SQLite store's own, or FENGKONG_MASTER_KEY_FILE) a new
    key goes first in the file, the old one stays second, and every data key
    is wrapped again under the new one; running processes read the file again
    when it changes. With FENGKONG_MASTER_KEY, put the new key there and the old
    one in FENGKONG_MASTER_KEY_PREVIOUS first (docs/privacy.md). `--retire`
    wraps again what an old key still wraps and then drops the old keys.
    """
    settings = load_settings(store=store, key=key)
    require_store(settings)
    admin(settings)
    keys = bootstrap.open_key_ring(settings)
    try:
        path = keys.masters.file
        if path is not None and not retire:
            write_key_file(path, [MasterKey.new(), *read_key_file(path)])
        moved = keys.rewrap()
        if path is not None and retire:
            write_key_file(path, read_key_file(path)[:1])
            moved += keys.rewrap()
        emit_json({"rewrapped": moved, "by_master_key": keys.table.count_by_master()})
    finally:
        keys.close()


@privacy.command("new-master-key")
def new_master_key() -> None:
    """Print a new random master key (for FENGKONG_MASTER_KEY or a key file)."""
    click.echo(MasterKey.new().text)
