"""`fengkong audit`: re-derive decisions from recorded facts, or ask what-if."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.table import Table

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
    exit status 1 if any differs. With --policy it shows what that policy
    would have decided instead.
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
    accounts = facts = 0
    try:
        for verdict in audit_jobs(settings, None if every else list(account_ids), what_if, jobs):
            accounts += 1
            facts += verdict.facts
            if len(shown) < 50:
                shown.append(verdict)
            if not verdict.identical:
                differing.append(verdict)
    except LookupError as error:
        raise Mistake(Exit.FAILED, str(error)) from None
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
        click.echo(f"{accounts} accounts, {facts} facts replayed in {elapsed:.2f}s; {len(differing)} differ")
    if differing and not what_if:
        raise SystemExit(1)
