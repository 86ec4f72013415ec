"""Read commands: one account, the emitted commands, the contract's schema."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from adapters.cli.common import console, emit_json, json_option, load_settings, open_engine, require_store, store_option
from adapters.cli.errors import Exit, Mistake
from engine.account import CreditAccount
from events.recorded import account_status
from events.schema import contract_schema


def account_view(account: CreditAccount) -> dict[str, Any]:
    """What an operator asks of an account; amounts as strings."""
    ledger, controls = account.ledger, account.controls
    return {
        "account_id": account.account_id,
        "status": account_status(controls.card_locked, controls.line_suspended, ledger.overdue_outstanding),
        "card_locked": controls.card_locked,
        "credit_line_suspended": controls.line_suspended,
        "credit_limit": str(controls.credit_limit),
        "original_limit": str(ledger.original_limit),
        "overdue_outstanding": str(ledger.overdue_outstanding),
        "outstanding": str(ledger.outstanding),
        "credit_balance": str(ledger.credit),
        "days_past_due": ledger.days_past_due,
        "score": controls.score,
        "bureau_flag": controls.bureau_flag,
        "active_plan": ledger.active_plan_id,
        "review": None
        if controls.review_id is None
        else {
            "request_id": controls.review_id,
            "deadline": controls.review_deadline.isoformat() if controls.review_deadline else None,
            "escalated": controls.review_escalated,
        },
        "notices_dropped": controls.notices_dropped,
        "held_lock": None
        if controls.held is None
        else {"hold_id": controls.held["id"], "commands": [c["type"] for c in controls.held["commands"]]},
        "closed": ledger.closed,
        "risk_tier": controls.risk_tier,
        "watch": None
        if controls.watch_since is None
        else {"since": controls.watch_since.isoformat(), "reason": controls.watch_reason},
        "promise": None
        if controls.promise_date is None
        else {"amount": str(controls.promise_amount), "date": controls.promise_date.isoformat()},
        "last_event_at": ledger.last_event_at.isoformat() if ledger.last_event_at else None,
        "version": account.version,
    }


@click.command()
@click.argument("account_id")
@store_option
@json_option
def account(account_id: str, store: str | None, as_json: bool) -> None:
    """Show one account's status, balances, limit, score and open review."""
    settings = load_settings(store=store)
    require_store(settings)
    found = open_engine(settings).account(account_id)
    if found is None:
        raise Mistake(Exit.FAILED, f"no account {account_id!r} in the store")
    view = account_view(found)
    if as_json:
        emit_json(view)
        return
    table = Table(show_header=False, title=f"account {account_id}")
    for key, value in view.items():
        table.add_row(key, "-" if value is None else str(value))
    console.print(table)


@click.command()
@click.option("--account", "account_id", default=None, help="Only this account's commands.")
@click.option("--limit", default=None, type=int, help="At most this many.")
@store_option
@json_option
def commands(account_id: str | None, limit: int | None, store: str | None, as_json: bool) -> None:
    """List emitted commands in emission order."""
    settings = load_settings(store=store)
    require_store(settings)
    engine = open_engine(settings)
    if account_id is not None and engine.account(account_id) is None:
        raise Mistake(Exit.FAILED, f"no account {account_id!r} in the store")
    rows = []
    for i, command in enumerate(engine.commands(account_id)):
        if limit is not None and i >= limit:
            break
        rows.append(command.model_dump(mode="json"))
    if as_json:
        emit_json(rows)
        return
    table = Table("occurred_at", "account", "type", "rule", "detail", "command_id", title="commands")
    for row in rows:
        detail = row.get("new_limit") or (f"{row['template']} via {row['channel']}" if "template" in row else "")
        table.add_row(row["occurred_at"], row["account_id"], row["type"], row["rule"], detail, row["command_id"])
    console.print(table)


@click.command()
@click.option("--commands", "which", flag_value="commands", help="The outbound command schema instead.")
@click.option("--inbound", "which", flag_value="inbound", default=True, help="The inbound contract (default).")
def schema(which: str) -> None:
    """Print the JSON Schema that upstream teams validate against."""
    emit_json(contract_schema(which))
