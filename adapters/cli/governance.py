"""What the governance commands share: the acting admin, from a named key, and saving a step.

A governance step (propose, attach, approve a policy; load a calendar) is
taken by a person: the admin key given with `--key` or FENGKONG_KEY names
them, and that name is recorded with the step. Refusals (no key, not an
admin, a rule of four eyes) are one line with exit status 3, as for `keys`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from adapters import bootstrap
from adapters.access.keys import AccessRefused, NotAuthenticated, Role
from adapters.cli.keys import Refused as RefusedExit
from adapters.settings import Settings
from engine.application import BatchConflict, RiskEngine
from engine.documents import DocumentBook, Refused


def acting_admin(settings: Settings) -> str:
    """The name of the admin key this command acts with."""
    keys = bootstrap.open_keys(settings)
    try:
        actor = settings.key.get_secret_value() if settings.key else None
        return keys.authorize(actor, Role.ADMIN).name
    except AccessRefused as refused:
        hint = ": give --key or set FENGKONG_KEY" if isinstance(refused, NotAuthenticated) else ""
        raise RefusedExit(f"{refused}{hint}") from None
    finally:
        keys.store.db.close()


@contextmanager
def refusals() -> Iterator[None]:
    """A rule of the domain that refuses the step: one line, exit status 3."""
    try:
        yield
    except Refused as refused:
        raise RefusedExit(refused.reason) from None


def save(engine: RiskEngine, book: DocumentBook) -> None:
    try:
        engine.save_documents(book)
    except BatchConflict:
        raise click.ClickException(
            f"another change to the {book.kind} records was saved meanwhile: try again"
        ) from None
