"""API keys in the store: digests only, the first key an admin's, admins manage keys, revoked keys refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import orjson
import pytest
from click.testing import CliRunner

from adapters import bootstrap
from adapters.access.keys import KeyRefused, Keys, NotAllowed, NotAuthenticated, Role, digest
from adapters.cli import cli
from adapters.settings import Settings
from adapters.store.keys import KEYS_TABLE


@pytest.fixture
def keys(store: str) -> Iterator[Keys]:
    opened = bootstrap.open_keys(Settings(store=store))
    yield opened
    opened.store.db.close()


def _create(keys: Keys, role: Role, name: str, actor: str | None) -> str:
    made = keys.create(role, name, actor)
    assert made is not None
    return made[1]


def test_the_first_key_needs_no_actor_and_must_be_an_admin_key(keys: Keys) -> None:
    with pytest.raises(KeyRefused, match="first key must be an admin key"):
        keys.create(Role.ANALYST, "ana", None)
    admin = _create(keys, Role.ADMIN, "root", None)
    assert admin.startswith("fk_") and len(admin) == 46
    principal = keys.authenticate(admin)
    assert (principal.name, principal.role) == ("root", Role.ADMIN)
    with pytest.raises(NotAuthenticated):
        keys.create(Role.ADMIN, "second", None)  # the store has a key now: an admin must act


def test_only_admins_create_revoke_and_list(keys: Keys) -> None:
    admin = _create(keys, Role.ADMIN, "root", None)
    analyst = _create(keys, Role.ANALYST, "ana", admin)
    operator = _create(keys, Role.OPERATOR, "op", admin)
    for actor in (analyst, operator):
        with pytest.raises(NotAllowed, match="admin"):
            keys.create(Role.ANALYST, "more", actor)
        with pytest.raises(NotAllowed):
            keys.revoke("ana", actor)
        with pytest.raises(NotAllowed):
            keys.list(actor)
    with pytest.raises(NotAuthenticated):
        keys.list("fk_not-a-key")
    assert [k.name for k in keys.list(admin)] == ["root", "ana", "op"]
    assert keys.authorize(operator, Role.ANALYST).role is Role.OPERATOR  # roles include the ones below
    with pytest.raises(NotAllowed):
        keys.authorize(analyst, Role.OPERATOR)


def test_the_store_keeps_digests_never_keys(keys: Keys) -> None:
    admin = _create(keys, Role.ADMIN, "root", None)
    analyst = _create(keys, Role.ANALYST, "ana", admin)
    rows = keys.store.db.query(f"SELECT * FROM {KEYS_TABLE}")
    stored = repr(rows)
    assert admin not in stored and analyst not in stored
    assert digest(analyst) in stored
    assert admin != analyst


def test_a_revoked_key_is_refused_and_its_name_can_be_given_again(keys: Keys) -> None:
    admin = _create(keys, Role.ADMIN, "root", None)
    analyst = _create(keys, Role.ANALYST, "ana", admin)
    with pytest.raises(KeyRefused, match="already has this name"):
        keys.create(Role.OPERATOR, "ana", admin)
    revoked = keys.revoke("ana", admin)
    assert revoked.revoked_at is not None and revoked.revoked_by == "root"
    with pytest.raises(NotAuthenticated, match="revoked"):
        keys.authenticate(analyst)
    with pytest.raises(KeyRefused, match="no key"):
        keys.revoke("ana", admin)  # by name: only keys in force
    with pytest.raises(KeyRefused, match="revoked already"):
        keys.revoke(revoked.id, admin)
    again = _create(keys, Role.ANALYST, "ana", admin)
    assert keys.authenticate(again).key_id != revoked.id
    assert [k.active for k in keys.list(admin)] == [True, False, True]


def test_the_last_admin_key_in_force_cannot_be_revoked(keys: Keys) -> None:
    admin = _create(keys, Role.ADMIN, "root", None)
    with pytest.raises(KeyRefused, match="last admin key"):
        keys.revoke("root", admin)
    other = _create(keys, Role.ADMIN, "other", admin)
    keys.revoke("root", other)
    with pytest.raises(NotAuthenticated):
        keys.authenticate(admin)


def test_two_first_keys_at_once_make_exactly_one(store: str) -> None:
    """`--if-none` from two processes starting together (compose's one-shot run twice): one key, one admin."""
    made: list[object] = []
    barrier = threading.Barrier(4)

    def create(name: str) -> None:
        keys = bootstrap.open_keys(Settings(store=store))
        try:
            barrier.wait()
            made.append(keys.create(Role.ADMIN, name, None, if_none=True))
        finally:
            keys.store.db.close()

    threads = [threading.Thread(target=create, args=(f"admin-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(made) == 4 and sum(result is not None for result in made) == 1
    keys = bootstrap.open_keys(Settings(store=store))
    try:
        assert keys.store.count() == 1
    finally:
        keys.store.db.close()


def test_the_cli_prints_a_new_key_once_on_stdout_and_refuses_in_one_line(store: str) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["keys", "create", "--role", "admin", "--name", "root", "--store", store])
    assert first.exit_code == 0, first.output
    admin = first.stdout.strip()
    assert admin.startswith("fk_") and first.stdout == admin + "\n"
    again = runner.invoke(cli, ["keys", "create", "--role", "admin", "--name", "x", "--if-none", "--store", store])
    assert again.exit_code == 0 and again.stdout == ""
    refused = runner.invoke(cli, ["keys", "create", "--role", "analyst", "--name", "ana", "--store", store])
    assert refused.exit_code == 3
    assert refused.output.count("\n") == 1 and "FENGKONG_KEY" in refused.output and "Traceback" not in refused.output
    env = {"FENGKONG_KEY": admin}
    made = runner.invoke(cli, ["keys", "create", "--role", "analyst", "--name", "ana", "--store", store], env=env)
    assert made.exit_code == 0, made.output
    analyst = made.stdout.strip()
    listed = runner.invoke(cli, ["keys", "list", "--json", "--store", store], env=env)
    assert listed.exit_code == 0 and admin not in listed.output and analyst not in listed.output
    assert [k["name"] for k in orjson.loads(listed.stdout)] == ["root", "ana"]
    as_analyst = runner.invoke(cli, ["keys", "list", "--store", store, "--key", analyst])
    assert as_analyst.exit_code == 3 and "admin" in as_analyst.output
    revoked = runner.invoke(cli, ["keys", "revoke", "ana", "--store", store], env=env)
    assert revoked.exit_code == 0, revoked.output
    denied = runner.invoke(cli, ["keys", "list", "--store", store, "--key", analyst])
    assert denied.exit_code == 3 and "revoked" in denied.output
