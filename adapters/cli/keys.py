"""`fengkong keys`: create, revoke and list the HTTP API's keys (admin).

The key acting is `--key` or FENGKONG_KEY (the environment keeps it out of
the process list). On a store without keys the first `create` needs none
and must make an admin key. A new key is printed once, alone on stdout.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.table import Table

from adapters import bootstrap
from adapters.access.keys import AccessRefused, KeyRefused, Keys, NotAuthenticated, Role
from adapters.cli.common import (
    console,
    emit_json,
    json_option,
    key_option,
    load_settings,
    progress_console,
    store_option,
)
from adapters.cli.errors import Exit
from adapters.settings import Settings

log = logging.getLogger(__name__)
REFUSED_EXIT = int(Exit.ACCESS_REFUSED)


class Refused(click.ClickException):
    """Access refused or a key request that cannot be done: one line, exit code 3."""

    exit_code = REFUSED_EXIT


@contextmanager
def _keys(settings: Settings) -> Iterator[Keys]:
    keys = bootstrap.open_keys(settings)
    try:
        yield keys
    except (AccessRefused, KeyRefused) as refused:
        hint = ": give --key or set FENGKONG_KEY" if settings.key is None or not _actor(settings) else ""
        raise Refused(f"{refused}{hint}" if isinstance(refused, NotAuthenticated) else str(refused)) from None
    finally:
        keys.store.db.close()


def _actor(settings: Settings) -> str | None:
    return settings.key.get_secret_value() if settings.key else None


@click.group()
def keys() -> None:
    """API keys of the HTTP API: create (shown once), revoke, list. Admins only, but for a store's first key."""


@keys.command("create")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True, help="What the key may do.")
@click.option("--name", required=True, help="Who or what holds the key (unique among keys in force).")
@click.option("--if-none", is_flag=True, help="Create it only if the store has no key yet (a first start).")
@key_option
@store_option
def create(role: str, name: str, if_none: bool, key: str | None, store: str | None) -> None:
    """Create a key and print it once on stdout; the store keeps only its digest."""
    settings = load_settings(store=store, key=key)
    with _keys(settings) as found:
        made = found.create(Role(role), name, _actor(settings), if_none=if_none)
    if made is None:
        progress_console.print("the store has keys already: none created (--if-none)")
        return
    stored, secret = made
    log.info("key %s created with role %s", stored.id, stored.role)
    progress_console.print(f"key {stored.id} ({stored.role}) created; it is shown once, here:")
    click.echo(secret)


@keys.command("revoke")
@click.argument("reference", metavar="NAME|ID")
@key_option
@store_option
def revoke(reference: str, key: str | None, store: str | None) -> None:
    """Revoke a key by its id or the name of a key in force; it is refused from then on."""
    settings = load_settings(store=store, key=key)
    with _keys(settings) as found:
        revoked = found.revoke(reference, _actor(settings))
    log.info("key %s revoked", revoked.id)
    click.echo(f"revoked key {revoked.id} ({revoked.role})")


@keys.command("list")
@key_option
@store_option
@json_option
def list_keys(key: str | None, store: str | None, as_json: bool) -> None:
    """Every key ever created, revoked ones included (never the keys themselves)."""
    settings = load_settings(store=store, key=key)
    with _keys(settings) as found:
        rows = found.list(_actor(settings))
    if as_json:
        emit_json([vars(row) for row in rows])
        return
    table = Table("id", "name", "role", "created", "by", "revoked", "by")
    for row in rows:
        table.add_row(
            row.id, row.name, row.role, row.created_at, row.created_by, row.revoked_at or "", row.revoked_by or ""
        )
    console.print(table)
