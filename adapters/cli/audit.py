"""`fengkong audit`: re-derive decisions from recorded facts, or ask what-if."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.table import Table

from adapters.audit.brake import audit_brake_ledger
from adapters.audit.parallel import Verdict, default_jobs
from adapters.audit.parallel import audit as audit_jobs
from adapters.cli.common import console, emit_json, json_option, load_settings, require_store, store_option
from adapters.cli.errors import Exit, Mistake
from engine.policy import load_policy


def _summary(verdict: Verdict) -> dict[str, Any]:
    return {
        "account_id": verdict.account_id,
        "facts": verdict.facts,
        "decisions_recorded": verdict.decisions_recorded,
        "decisions_derived": verdict.decisions_derived,
        "identical": verdict.identical,
    }


@click.command()
@click.argument("account_ids", nargs=-1, metavar="[ACCOUNT_ID]...")
@click.option("--all", "every", is_flag=True, help="Every account in the store.")
@click.option(
    "--policy",
    "what_if",
    default=None,
    metavar="NAME|FILE",
    help="Replay under this policy instead of the recorded one (what-if).",
)
@click.option(
    "--jobs",
    default=default_jobs(),
    show_default=True,
    help="Processes replaying accounts in parallel (used from 2,000 accounts on).",
)
@store_option
@json_option
def audit(
    account_ids: tuple[str, ...], every: bool, what_if: str | None, jobs: int, store: str | None, as_json: bool
) -> None:
    """Replay recorded facts and prove each decision again.

    Without --policy the replay uses the policy version each account was
    decided under and must reproduce every decision and command id exactly;
    with --all the emergency brake's verdicts are proven too, once, in the
    store's order; exit status 1 if anything differs. With --policy it shows
    what that policy would have decided instead. Operators' actions (who did
    what, when) are listed.
    """
    if not account_ids and not every:
        raise click.UsageError("name at least one ACCOUNT_ID, or --all")
    try:
        if what_if:
            load_policy(what_if)
    except FileNotFoundError as error:
        raise Mistake(Exit.BAD_SETTING, str(error)) from None
    settings = load_settings(store=store)
    require_store(settings)
    started = time.perf_counter()
    shown: list[Verdict] = []
    differing: list[Verdict] = []
    actions: list[dict[str, Any]] = []
    accounts = facts = 0
    try:
        for verdict in audit_jobs(settings, None if every else list(account_ids), what_if, jobs):
            accounts += 1
            facts += verdict.facts
            actions += verdict.actions
            if len(shown) < 50:
                shown.append(verdict)
            if not verdict.identical:
                differing.append(verdict)
    except LookupError as error:
        raise Mistake(Exit.FAILED, str(error)) from None
    brake = audit_brake_ledger(settings) if every and not what_if else None
    if brake is not None:
        actions += [_clock_action(found) for found in brake.clock_actions]
    elapsed = time.perf_counter() - started
    if as_json:
        emit_json(
            {
                "accounts": accounts,
                "facts": facts,
                "identical": accounts - len(differing),
                "differing": [
                    {
                        **_summary(v),
                        "recorded_commands": v.recorded_commands,
                        "derived_commands": v.derived_commands,
                    }
                    for v in differing[:100]
                ],
                "seconds": round(elapsed, 3),
                "facts_per_second": round(facts / elapsed) if elapsed else None,
                "brake": None
                if brake is None
                else {
                    "batches_judged": brake.batches,
                    "verdicts": brake.verdicts,
                    "held": brake.held,
                    "identical": brake.identical,
                    "differences": brake.differences[:100],
                },
                "operator_actions": actions,
            }
        )
    else:
        table = Table("account", "facts", "recorded", "derived", "identical", title="audit replay")
        for v in shown:
            table.add_row(
                v.account_id,
                str(v.facts),
                str(v.decisions_recorded),
                str(v.decisions_derived),
                "yes" if v.identical else "[red]NO[/red]",
            )
        console.print(table)
        if actions:
            _print_actions(actions)
        click.echo(f"{accounts} accounts, {facts} facts replayed in {elapsed:.2f}s; {len(differing)} differ")
        if brake is not None:
            proven = "identical" if brake.identical else f"[red]{len(brake.differences)} DIFFER[/red]"
            console.print(
                f"emergency brake: {brake.verdicts} verdicts ({brake.held} held) in {brake.batches} batches "
                f"re-derived in the store's order: {proven}"
            )
    if (differing or (brake is not None and not brake.identical)) and not what_if:
        raise SystemExit(1)


def _clock_action(found: dict[str, Any]) -> dict[str, Any]:
    data = dict(found["data"])
    return {
        "account_id": None,
        "action": found["type"],
        "event_id": found["event_id"],
        "at": found["occurred_at"],
        "actor": data.pop("actor"),
        "role": data.pop("role"),
        "key_id": data.pop("key_id"),
        "details": data,
    }


def _print_actions(actions: list[dict[str, Any]]) -> None:
    table = Table("at", "actor", "role", "action", "account", "details", title="operators' actions (who did what)")
    for action in sorted(actions, key=lambda a: str(a["at"]))[-200:]:
        details = ", ".join(f"{k}={v}" for k, v in action["details"].items() if v is not None)
        table.add_row(
            str(action["at"]), action["actor"], action["role"], action["action"], action["account_id"] or "", details
        )
    console.print(table)
