"""`fengkong audit explain`: an account's story for a human, or its state at a moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from adapters.bootstrap import revealer
from adapters.cli.common import console, emit_json, json_option, load_settings, open_engine, store_option
from adapters.cli.inspect import account_view
from engine.explain import standing_at, story


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("an RFC 3339 time with its offset, e.g. 2026-03-10T09:00:00+08:00") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give the time's offset, e.g. 2026-03-10T09:00:00+08:00")
    return moment


@click.command("explain")
@click.argument("account_id")
@click.option("--at", "at_text", default=None, metavar="TIME", help="Also the account's state as of this event time.")
@store_option
@json_option
def explain(account_id: str, at_text: str | None, store: str | None, as_json: bool) -> None:
    """The account's story: each fact, each decision with its rule, thresholds and facts, commands, operators.

    Thresholds come from the decision when its policy records them, else from
    the text of the policy version it was decided under, as the store
    recorded it. With --at, the account's status, balances and controls as
    of that moment (the facts that had happened by then, in recorded order).
    """
    at = _moment(at_text)
    settings = load_settings(store=store)
    engine = open_engine(settings)
    shown = revealer(settings)  # sealed personal values opened (the story masks them), forgotten ones named so
    try:
        try:
            _, states = next(engine.recorded_histories([account_id]))
        except LookupError as error:
            raise click.ClickException(str(error).strip("'\"")) from None
        states = shown.reveal(states)
        documents = engine.documents()
        entries = story(account_id, states, documents.policy_for)
        standing = None
        if at is not None:
            found = standing_at(account_id, states, at)
            standing = None if found is None else account_view(found)
    finally:
        engine.close()
        shown.close()
    if at is not None:
        entries = [e for e in entries if datetime.fromisoformat(e["occurred_at"]) <= at]
    body: dict[str, Any] = {"account_id": account_id, "facts": entries}
    if at is not None:
        body = {"account_id": account_id, "at": at.isoformat(), "state": standing, "facts": entries}
    if as_json:
        emit_json(body)
        return
    _print(body)


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in values.items())


def _print(body: dict[str, Any]) -> None:
    facts = body["facts"]
    decisions = sum(len(e["decisions"]) for e in facts)
    commands = sum(1 for e in facts for d in e["decisions"] if d["command"])
    click.echo(f"account {body['account_id']}: {len(facts)} facts, {decisions} decisions, {commands} commands")
    for e in facts:
        click.echo(f"\n#{e['n']} {e['occurred_at']}  {e['type']}  ({e['event_id']}, policy {e['policy_version']})")
        if e["data"]:
            click.echo(f"   facts: {_pairs(e['data'])}")
        if "operator_action" in e:
            click.echo(f"   operator action by {e['operator_action']['by']}")
        for d in e["decisions"]:
            command = d["command"]
            did = f"{command['type']} ({command['command_id']})" if command else "no command"
            click.echo(f"   -> {d['rule']}: {did}")
            click.echo(f"      compared: {_pairs(d['facts'])}")
            if d["thresholds"]:
                click.echo(f"      thresholds: {_pairs(d['thresholds'])}   [{d['thresholds_from']}]")
            if d["changes"]:
                click.echo(f"      set: {_pairs(d['changes'])}")
        balances = e["balances_after"]
        click.echo(
            f"   balances after: overdue {balances['overdue_outstanding']}, outstanding {balances['outstanding']}, "
            f"days past due {balances['days_past_due']}"
        )
    if "at" in body:
        state = body["state"]
        console.print(f"\n[bold]as of {body['at']}[/bold]")
        if state is None:
            click.echo("   no fact had happened yet")
        else:
            click.echo("   " + _pairs({k: v for k, v in state.items() if k != "account_id"}))
