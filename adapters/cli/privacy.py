"""`fengkong privacy`: forget a customer, sweep those retention forgets, export what is held on one, rotate (admin).

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
from adapters.privacy import retention
from adapters.privacy.crypto import MasterKey
from adapters.privacy.master import read_key_file, write_key_file
from adapters.privacy.operations import NothingToForget, export, forget, holdings
from adapters.settings import Settings
from adapters.store import queries
from adapters.store.tables import POSITIONS
from engine.policy import Policy, parse_policy
from events.documents import POLICIES


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
    """Personal data: forget a customer (or sweep by retention), export one's data, rotate keys (docs/privacy.md)."""


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


def _active_policy(settings: Settings) -> Policy | None:
    """The store's active policy (engine.governance): the one whose [retention] the sweep applies."""
    documents = bootstrap.open_documents(settings)
    try:
        active = documents.book(POLICIES).active_document
    finally:
        documents.close()
    return None if active is None else parse_policy(active.text)


def _note(text: str) -> None:
    progress_console.print(text, markup=False, highlight=False, soft_wrap=True)


@privacy.command("sweep")
@click.option("--dry-run", is_flag=True, help="Say whom the sweep would forget; forget no one.")
@key_option
@store_option
def sweep_command(dry_run: bool, key: str | None, store: str | None) -> None:
    """Forget every customer whose accounts are all closed, the latest more than the retention period ago.

    The period is the store's active policy's `[retention] forget_after_days`
    (a policy without it forgets no one); "ago" counts back from the platform
    clock's latest closed business date, never the wall clock. Each forget is
    recorded like `privacy forget`, with this key's name and a reason naming
    retention. Schedule it (cron); a second run forgets nothing new.
    """
    settings = load_settings(store=store, key=key)
    require_store(settings)
    actor = admin(settings)
    policy = _active_policy(settings)
    listed = "would_forget" if dry_run else "forgotten"
    if policy is None or policy.retention is None:
        named = (
            "has no active policy yet" if policy is None else f"'s active policy ({policy.version}) sets no [retention]"
        )
        _note(f"the store {named}: nobody is forgotten automatically")
        emit_json(
            {"dry_run": dry_run, "policy": getattr(policy, "version", None), "forget_after_days": None, listed: []}
        )
        return
    if not dry_run:
        bootstrap.key_rings(settings).forgotten.require()  # refused before the store is read, not at the first due
    with _opened(settings) as (keys, records):
        planned = retention.due(keys, records, policy.retention, _note)
        if planned is None:
            _note("no business date closed yet (DayClosed): nobody is due")
            days = policy.retention.forget_after_days
            emit_json({"dry_run": dry_run, "policy": policy.version, "forget_after_days": days, listed: []})
            return
        actor_ids = (actor.name, actor.key_id)
        emit_json(retention.sweep(keys, records, planned, policy.version, actor_ids, dry_run, _note))


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
