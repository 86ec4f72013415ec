"""`fengkong audit`: re-derive decisions from recorded facts, or ask what-if."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.table import Table

from adapters.cli.common import console, emit_json, engine_for, json_option, store_option
from engine.audit import Replay, commands_of, replay_accounts, replay_store
from engine.policy import load_policy


def _summary(replay_result: Replay) -> dict[str, Any]:
    return {
        "account_id": replay_result.account_id,
        "facts": replay_result.facts,
        "decisions_recorded": len(replay_result.recorded),
        "decisions_derived": len(replay_result.derived),
        "identical": replay_result.identical,
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
@store_option
@json_option
def audit(account_ids: tuple[str, ...], every: bool, what_if: str | None, store: str | None, as_json: bool) -> None:
    """Replay recorded facts and prove each decision again.

    Without --policy the replay uses the policy version each account was
    decided under and must reproduce every decision and command id exactly;
    exit status 1 if any differs. With --policy it shows what that policy
    would have decided instead.
    """
    engine = engine_for(store)
    if not account_ids and not every:
        raise click.UsageError("name at least one ACCOUNT_ID, or --all")
    alternative = load_policy(what_if) if what_if else None
    started = time.perf_counter()
    results, facts = [], 0
    replays = (
        replay_store(engine, (lambda _: alternative) if alternative else None)
        if every
        else replay_accounts(engine, account_ids, (lambda _: alternative) if alternative else None)
    )
    try:
        for result in replays:
            facts += result.facts
            results.append(result)
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    elapsed = time.perf_counter() - started
    differing = [r for r in results if not r.identical]
    if as_json:
        emit_json(
            {
                "accounts": len(results),
                "facts": facts,
                "identical": len(results) - len(differing),
                "differing": [
                    {
                        **_summary(r),
                        "recorded_commands": commands_of(r.recorded),
                        "derived_commands": commands_of(r.derived),
                    }
                    for r in differing[:100]
                ],
                "seconds": round(elapsed, 3),
                "facts_per_second": round(facts / elapsed) if elapsed else None,
            }
        )
    else:
        table = Table("account", "facts", "recorded", "derived", "identical", title="audit replay")
        for r in results[:50]:
            table.add_row(
                r.account_id,
                str(r.facts),
                str(len(r.recorded)),
                str(len(r.derived)),
                "yes" if r.identical else "[red]NO[/red]",
            )
        console.print(table)
        click.echo(f"{len(results)} accounts, {facts} facts replayed in {elapsed:.2f}s; {len(differing)} differ")
    if differing and not what_if:
        raise SystemExit(1)
