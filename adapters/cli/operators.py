"""`fengkong held`, `reviews`, `locks undo`, `clock correct`: operators' actions, recorded with who did them.

Each acts with the key of `--key` or FENGKONG_KEY (operator role; `clock
correct`: admin) and goes through the engine like an inbound event
(adapters.operators.service): the result of each action is printed, and a
refused one makes the exit status 1. A key refused: one line, exit status 3
(access refused); a request that cannot be done at all: one line, exit 1
(docs/reliability.md, "Operators' mistakes").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, TypeVar

import click
from rich.table import Table

from adapters import bootstrap
from adapters.access.keys import AccessRefused, NotAuthenticated, Principal, Role
from adapters.cli.common import (
    console,
    emit_json,
    json_option,
    key_option,
    load_settings,
    require_store,
    store_option,
)
from adapters.cli.errors import Exit, Mistake
from adapters.operators.reviews import review_rows
from adapters.operators.service import ActionOutcome, ActionRefused, Operators
from adapters.settings import Settings
from adapters.store.readers import HeldLock, HoldFilter

F = TypeVar("F", bound=Callable[..., Any])


def _idempotency(command: F) -> F:
    return click.option(
        "--idempotency-key",
        default=None,
        metavar="KEY",
        help="Requests with the same key act once (default: one per target, e.g. a hold is released once).",
    )(command)


def _moment(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            "an RFC 3339 time with its offset, e.g. 2026-03-10T09:00:00+08:00", param_hint=name
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter("give the time's offset, e.g. +08:00", param_hint=name)
    return moment


@contextmanager
def _acting(settings: Settings, role: Role) -> Iterator[tuple[Operators, Principal]]:
    """The operators' service and the key's holder, who must have `role`."""
    require_store(settings)
    keys = bootstrap.open_keys(settings)
    try:
        principal = keys.authorize(settings.key.get_secret_value() if settings.key else None, role)
    except AccessRefused as refused:
        hint = ": give --key or set FENGKONG_KEY" if isinstance(refused, NotAuthenticated) else ""
        raise Mistake(Exit.ACCESS_REFUSED, f"{refused}{hint}") from None
    finally:
        keys.store.db.close()
    operators = bootstrap.operators(settings)
    try:
        yield operators, principal
    except AccessRefused as refused:
        raise Mistake(Exit.ACCESS_REFUSED, str(refused)) from None
    except ActionRefused as refused:
        raise Mistake(Exit.FAILED, str(refused)) from None
    finally:
        operators.engine.close()
        operators.tables.db.close()


def _report(outcomes: Sequence[ActionOutcome], as_json: bool) -> None:
    if as_json:
        emit_json([outcome.jsonable() for outcome in outcomes])
    else:
        table = Table("action", "target", "account", "outcome", "commands", "reason")
        for o in outcomes:
            commands = ", ".join(str(c["type"]) for c in o.commands)
            table.add_row(o.action, o.target, o.account_id or "", o.outcome, commands, o.reason or "")
        console.print(table)
        applied = sum(o.outcome == "applied" for o in outcomes)
        click.echo(f"{applied} applied, {len(outcomes) - applied} not")
    if any(o.outcome == "refused" for o in outcomes):
        raise SystemExit(1)


# ---------------------------------------------------------------- held locks


@click.group()
def held() -> None:
    """Automatic locks the emergency brake holds for an operator: list, release, drop."""


def _filter(rule: str | None, after: str | None, until: str | None, account: str | None) -> HoldFilter:
    return HoldFilter(rule, _moment(after, "--from"), _moment(until, "--to"), account)


def _filter_options(command: F) -> F:
    for option in (
        click.option("--rule", default=None, help="Only locks of this rule (lock.overdue, lock.broken_plan)."),
        click.option("--from", "after", default=None, metavar="TIME", help="Only causes after this event time."),
        click.option("--to", "until", default=None, metavar="TIME", help="Only causes at or before this event time."),
        click.option("--account", default=None, metavar="ACCOUNT_ID", help="Only this account's."),
    ):
        command = option(command)
    return command


@held.command("list")
@_filter_options
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many.")
@store_option
@json_option
def held_list(
    rule: str | None,
    after: str | None,
    until: str | None,
    account: str | None,
    limit: int | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Held locks, oldest cause first, with the brake's verdict (count, bound, active accounts)."""
    settings = load_settings(store=store)
    require_store(settings)
    tables = bootstrap.open_engine_tables(settings)
    try:
        found = tables.holds(_filter(rule, after, until, account), limit)
    finally:
        tables.db.close()
    if as_json:
        emit_json([lock.jsonable() for lock in found])
        return
    table = Table("hold id", "account", "rule", "cause", "cause at (UTC)", "count/bound", "active", "held")
    for lock in found:
        table.add_row(*_held_row(lock))
    console.print(table)
    click.echo(f"{len(found)} held")


def _held_row(lock: HeldLock) -> list[str]:
    return [
        lock.hold_id,
        lock.account_id,
        lock.rule,
        lock.cause_event_id,
        lock.cause_at.isoformat(timespec="seconds"),
        f"{lock.count}/{lock.bound}",
        str(lock.active),
        ", ".join(str(c["type"]) for c in lock.commands),
    ]


@held.command("release")
@click.argument("hold_ids", nargs=-1, metavar="[HOLD_ID]...")
@click.option("--all", "every", is_flag=True, help="Every held lock (narrowed by the filters).")
@_filter_options
@click.option("--reason", default=None, help="Why (recorded with the release).")
@_idempotency
@key_option
@store_option
@json_option
def held_release(
    hold_ids: tuple[str, ...],
    every: bool,
    rule: str | None,
    after: str | None,
    until: str | None,
    account: str | None,
    reason: str | None,
    idempotency_key: str | None,
    key: str | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Release held locks: each emits now the commands it would have had, with the same command ids."""
    if bool(hold_ids) == every:
        raise click.UsageError("name HOLD_IDs, or --all (with --rule/--from/--to/--account to narrow it)")
    if hold_ids and (rule or after or until or account):
        raise click.UsageError("--rule, --from, --to and --account narrow --all only")
    with _acting(load_settings(store=store, key=key), Role.OPERATOR) as (operators, actor):
        if every:
            outcomes = operators.release_matching(actor, _filter(rule, after, until, account), reason, idempotency_key)
        else:
            outcomes = operators.release(actor, hold_ids, reason, idempotency_key)
    _report(outcomes, as_json)


@held.command("drop")
@click.argument("hold_ids", nargs=-1, required=True, metavar="HOLD_ID...")
@click.option("--reason", required=True, help="Why they are dropped (recorded).")
@_idempotency
@key_option
@store_option
@json_option
def held_drop(
    hold_ids: tuple[str, ...],
    reason: str,
    idempotency_key: str | None,
    key: str | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Drop held locks: nothing is emitted for them, ever."""
    with _acting(load_settings(store=store, key=key), Role.OPERATOR) as (operators, actor):
        outcomes = operators.drop(actor, hold_ids, reason, idempotency_key)
    _report(outcomes, as_json)


# ---------------------------------------------------------------- reviews


@click.group()
def reviews() -> None:
    """Unlock reviews: list the open ones with their deadline; approve or reject one."""


@reviews.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@store_option
@json_option
def reviews_list(limit: int, store: str | None, as_json: bool) -> None:
    """Open reviews, soonest deadline first, with business days left (from the read models)."""
    settings = load_settings(store=store)
    require_store(settings)
    rows = review_rows(settings, limit)
    if as_json:
        emit_json(rows)
        return
    table = Table("account", "request", "applied on", "deadline", "business days left", "escalated")
    for row in rows:
        left = row["business_days_left"]
        table.add_row(
            row["account_id"],
            row["request_id"],
            str(row["requested_on"]),
            str(row["deadline"]),
            "" if left is None else str(left),
            "yes" if row["escalated"] else "",
        )
    console.print(table)


def _decide(approved: bool) -> Callable[..., None]:
    def decide(
        account_id: str,
        request_id: str | None,
        note: str,
        idempotency_key: str | None,
        key: str | None,
        store: str | None,
        as_json: bool,
    ) -> None:
        with _acting(load_settings(store=store, key=key), Role.OPERATOR) as (operators, actor):
            outcome = operators.decide_review(actor, account_id, approved, note, request_id, idempotency_key)
        _report([outcome], as_json)

    return decide


for _name, _approved, _help in (
    ("approve", True, "Approve the account's open unlock review (the card is unlocked if locked)."),
    ("reject", False, "Reject the account's open unlock review (the card stays locked)."),
):
    reviews.command(_name, help=_help)(
        click.argument("account_id")(
            click.option("--request", "request_id", default=None, help="The review's request id, to be sure.")(
                click.option("--note", required=True, help="The decision's note (recorded).")(
                    _idempotency(key_option(store_option(json_option(_decide(_approved)))))
                )
            )
        )
    )


# ---------------------------------------------------------------- bulk undo


@click.group()
def locks() -> None:
    """Automatic locks: undo those of a window (an upstream double-posting incident)."""


@locks.command("undo")
@click.option("--from", "after", required=True, metavar="TIME", help="First cause event time of the window.")
@click.option("--to", "until", required=True, metavar="TIME", help="End of the window (excluded).")
@click.option("--rule", default=None, help="Only locks of this rule (default: lock.overdue and lock.broken_plan).")
@click.option("--reason", default=None, help="Why (recorded with each undo; required unless --dry-run).")
@click.option("--dry-run", is_flag=True, help="List what would be undone; change nothing.")
@_idempotency
@key_option
@store_option
@json_option
def locks_undo(
    after: str,
    until: str,
    rule: str | None,
    reason: str | None,
    dry_run: bool,
    idempotency_key: str | None,
    key: str | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Undo the automatic locks whose causes fall in [--from, --to) and whose accounts they still lock.

    Each account is re-derived as if the lock's cause had never happened: the
    card unlocked, the line restored, a limit cut and a bureau mark taken back.
    """
    start, end = _moment(after, "--from"), _moment(until, "--to")
    assert start is not None and end is not None
    if end <= start:
        raise click.BadParameter("must be after --from", param_hint="--to")
    if not dry_run and not (reason and reason.strip()):
        raise click.UsageError("--reason is required (or --dry-run)")
    settings = load_settings(store=store, key=key)
    require_store(settings)
    runner = bootstrap.projection_runner(settings)
    try:
        runner.catch_up()  # candidates come from the read model of decisions
    finally:
        runner.close()
    db = bootstrap.open_tables(settings)
    try:
        with _acting(settings, Role.OPERATOR) as (operators, actor):
            plan = operators.plan_undo(db, start, end, rule)
            if dry_run:
                _show_plan(plan, as_json)
                return
            outcomes = operators.undo(actor, plan, start, end, rule, reason or "", idempotency_key)
    finally:
        db.close()
    _report(outcomes, as_json)


def _show_plan(plan: Sequence[Any], as_json: bool) -> None:
    if as_json:
        emit_json({"dry_run": True, "would_undo": [item.jsonable() for item in plan]})
        return
    table = Table("account", "lock (command id)", "rule", "cause", "cause at", title="would undo (dry run)")
    for item in plan:
        table.add_row(item.account_id, item.lock_command_id, item.rule, item.cause_event_id, item.cause_at.isoformat())
    console.print(table)
    click.echo(f"{len(plan)} locks would be undone (dry run: nothing changed)")


# ---------------------------------------------------------------- the clock


@click.group()
def clock() -> None:
    """The platform clock (business dates closed by DayClosed)."""


@clock.command("correct")
@click.option("--date", "business_date", required=True, type=click.DateTime(["%Y-%m-%d"]), help="The true date.")
@click.option("--reason", required=True, help="Why (recorded).")
@_idempotency
@key_option
@store_option
@json_option
def clock_correct(
    business_date: datetime, reason: str, idempotency_key: str | None, key: str | None, store: str | None, as_json: bool
) -> None:
    """Set a clock closed too far ahead back to the true business date (admins only)."""
    day: date = business_date.date()
    with _acting(load_settings(store=store, key=key), Role.ADMIN) as (operators, actor):
        outcome = operators.correct_clock(actor, day, reason, idempotency_key)
    _report([outcome], as_json)


OPERATOR_COMMANDS = (held, reviews, locks, clock)
