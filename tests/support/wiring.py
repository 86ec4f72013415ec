"""The parts tests open on a store URL, built by the composition root as the product builds them."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from adapters import bootstrap
from adapters.access.keys import Role
from adapters.settings import Settings
from adapters.store.readers import StoredLog, StoredOutbox
from adapters.store.tables import ProjectionDatabase
from engine.application import RiskEngine
from projections.runner import ProjectionRunner


def open_engine(store: str, **settings: Any) -> RiskEngine:
    return bootstrap.open_engine(Settings(store=store, **settings))


def runner_at(store: str, page: int | None = None) -> ProjectionRunner:
    return bootstrap.projection_runner(Settings.load(store=store, projection_page=page))


def log_at(store: str) -> StoredLog:
    return bootstrap.open_log(Settings(store=store))


def tables_at(store: str) -> ProjectionDatabase:
    return bootstrap.open_tables(Settings(store=store))


def api_at(store: str) -> FastAPI:
    return bootstrap.api(Settings(store=store))


def outbox_at(store: str, commands_topic: str) -> StoredOutbox:
    return bootstrap.open_outbox(Settings(store=store, commands_topic=commands_topic))


def outbox_drained(store: str, commands_topic: str) -> bool:
    """True once the relay of `commands_topic` has recorded a position past the last recorded decision."""
    outbox = outbox_at(store, commands_topic)
    try:
        return outbox.page(outbox.position(), 1).read == 0
    finally:
        outbox.close()


_ADMINS: dict[str, str] = {}  # store -> the admin key the tests made first on it


def key_at(store: str, role: Role | str = Role.ANALYST, name: str | None = None) -> str:
    """A new API key of `role` on the store; the first call on a store makes its first admin key too."""
    keys = bootstrap.open_keys(Settings(store=store))
    try:
        if keys.store.count() == 0:
            made = keys.create(Role.ADMIN, "tests-admin", None)
            assert made is not None
            _ADMINS[store] = made[1]
        made = keys.create(Role(role), name or f"tests-{role}-{len(keys.store.all())}", _ADMINS[store])
        assert made is not None
        return made[1]
    finally:
        keys.store.db.close()


def revoke_at(store: str, reference: str) -> None:
    keys = bootstrap.open_keys(Settings(store=store))
    try:
        keys.revoke(reference, _ADMINS[store])
    finally:
        keys.store.db.close()
