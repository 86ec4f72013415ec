"""`fengkong audit`: prove recorded decisions again, explain an account, ask what a candidate policy would do."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click
import orjson
from rich.table import Table

from adapters.audit.html import render
from adapters.audit.parallel import Audit, Verdict, default_jobs
from adapters.audit.progress import ReplayProgress
from adapters.audit.whatif import candidate_text, whatif_report
from adapters.cli.common import (
    check_output,
    console,
    emit_json,
    json_option,
    load_settings,
    problem_of,
    progress_console,
    require_store,
    store_option,
)
from adapters.cli.errors import Exit, Mistake, translate
from adapters.cli.explain import explain
from engine.documents import Refused
from engine.whatif import Period

SHOWN = 50  # rows of a table on the terminal; --json lists everything


class DefaultToCheck(click.Group):
    """`fengkong audit ACCOUNT_ID...` and `fengkong audit --all` run `check`; named subcommands run themselves."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["check", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultToCheck)
def audit() -> None:
    """Replay recorded facts: prove decisions (check, the default), explain an account, or what-if.

    \b
    fengkong audit ACC1 ACC2        prove these accounts' decisions again (exit 1 on any difference)
    fengkong audit --all            every account, on every core
    fengkong audit explain ACC1     an account's story: facts, decisions, thresholds, commands
    fengkong audit whatif --policy candidate.toml    what a candidate would have decided (exit 1: it differs)
    """


def _jobs_option(command: Any) -> Any:
    return click.option(
        "--jobs",
        default=default_jobs(),
        show_default=True,
        help="Processes replaying accounts in parallel (used from 2,000 accounts on).",
    )(command)


def _summary(verdict: Verdict) -> dict[str, Any]:
    return {
        "account_id": verdict.account_id,
        "facts": verdict.facts,
        "decisions_recorded": verdict.decisions_recorded,
        "decisions_derived": verdict.decisions_derived,
        "identical": verdict.identical,
    }


@audit.command("check")
@click.argument("account_ids", nargs=-1, metavar="[ACCOUNT_ID]...")
@click.option("--all", "every", is_flag=True, help="Every account in the store.")
@_jobs_option
@store_option
@json_option
def check(account_ids: tuple[str, ...], every: bool, jobs: int, store: str | None, as_json: bool) -> None:
    """Replay recorded facts and prove each decision again, byte for byte.

    Each fact is replayed under the policy version it was decided under, read
    from the store (policies are recorded with their first use), and business
    days on the calendar its decision cites. With --all the emergency brake's
    verdicts are proven too, once, in the store's order. Operators' actions
    (who did what, when) are listed. Exit status 1 if any decision, command id,
    recorded balance or brake verdict differs; 2 on error. Progress goes to stderr.
    """
    if not account_ids and not every:
        raise click.UsageError("name at least one ACCOUNT_ID, or --all")
    settings = load_settings(store=store)
    require_store(settings)
    started = time.perf_counter()
    shown: list[Verdict] = []
    differing: list[Verdict] = []
    actions: list[dict[str, Any]] = []
    accounts = facts = 0
    progress = ReplayProgress("audit")
    run = Audit(settings, None if every else list(account_ids), jobs, progress, brake=every)
    try:
        for verdict in run:
            accounts += 1
            facts += verdict.facts
            actions += verdict.actions
            if len(shown) < SHOWN:
                shown.append(verdict)
            if not verdict.identical:
                differing.append(verdict)
    except LookupError as error:
        raise Mistake(Exit.FAILED, str(error).strip("'\"")) from None
    brake = run.brake
    if brake is not None:
        actions += [_clock_action(found) for found in brake.clock_actions]
    elapsed = time.perf_counter() - started
    rate = round(facts / elapsed) if elapsed else None
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
                        "balances_differ": v.balances_differ,
                    }
                    for v in differing
                ],
                "seconds": round(elapsed, 3),
                "facts_per_second": rate,
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
        for v in differing[:SHOWN] if differing else shown:
            table.add_row(
                v.account_id,
                str(v.facts),
                str(v.decisions_recorded),
                str(v.decisions_derived),
                "yes" if v.identical else "[red]NO[/red]",
            )
        console.print(table)
        if len(differing) > SHOWN:
            progress_console.print(f"{len(differing) - SHOWN} more accounts differ: --json lists them all")
        if actions:
            _print_actions(actions)
        click.echo(
            f"{accounts} accounts, {facts} facts replayed in {elapsed:.2f}s ({rate or 0:,} facts/s); "
            f"{len(differing)} differ"
        )
        if brake is not None:
            proven = "identical" if brake.identical else f"[red]{len(brake.differences)} DIFFER[/red]"
            console.print(
                f"emergency brake: {brake.verdicts} verdicts ({brake.held} held) in {brake.batches} batches "
                f"re-derived in the store's order: {proven}"
            )
    if differing or (brake is not None and not brake.identical):
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


class WhatIfError(Mistake):
    """Anything that keeps the report from being made: exit status 2, whatever its kind (1 means "it differs")."""

    def __init__(self, message: str) -> None:
        super().__init__(Exit.USAGE, message)


@contextmanager
def whatif_errors() -> Iterator[None]:
    """Every mistake of a what-if (or a shadow report) as one line and exit status 2."""
    try:
        yield
    except WhatIfError:
        raise
    except Mistake as mistake:
        raise WhatIfError(mistake.message) from None
    except (FileNotFoundError, LookupError) as error:
        raise WhatIfError(str(error).strip("'\"")) from None
    except Refused as refused:
        raise WhatIfError(refused.reason) from None
    except ValueError as error:
        raise WhatIfError(f"the candidate does not validate: {problem_of(error)}") from None
    except Exception as error:
        found = translate(error)
        if found is None:
            raise
        raise WhatIfError(found.message) from None


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise WhatIfError(f"{name}: a date written YYYY-MM-DD") from None


@audit.command("whatif")
@click.option("--policy", "candidate", required=True, metavar="FILE|VERSION", help="The candidate policy.")
@click.option("--from", "start", default=None, metavar="DATE", help="First local date decided again (default: all).")
@click.option("--to", "end", default=None, metavar="DATE", help="Last local date decided again (default: all).")
@click.option("--accounts", default=None, metavar="ID,ID,...", help="Only these accounts (comma-separated).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write an HTML report.")
@_jobs_option
@store_option
@json_option
def whatif(
    candidate: str,
    start: str | None,
    end: str | None,
    accounts: str | None,
    html_path: Path | None,
    jobs: int,
    store: str | None,
    as_json: bool,
) -> None:
    """What a candidate policy would have decided over recorded history, beside what was decided.

    The candidate takes over on --from (the accounts as they really were that
    day) and decides every fact up to --to again, in a sandbox: nothing is
    written to the store or to any topic. Decisions are compared on their
    substance (cause, rule, controls set, command type and fields; ids and
    version strings aside). Exit status: 0 no difference, 1 differences, 2 error.
    """
    period = Period(_day(start, "--from"), _day(end, "--to"))
    if period.start and period.end and period.start > period.end:
        raise WhatIfError("--from is after --to")
    ids = [a.strip() for a in accounts.split(",") if a.strip()] if accounts else None
    with whatif_errors():
        settings = load_settings(store=store)
        require_store(settings)
        if html_path is not None:
            check_output(html_path)
        chosen = candidate_text(settings, candidate)
        report = whatif_report(settings, chosen, period, ids, jobs, ReplayProgress("whatif"))
        if html_path is not None:
            html_path.write_text(render(report, settings.store), encoding="utf-8")
            progress_console.print(f"HTML report: {html_path}")
    if as_json:
        emit_json(report)
    else:
        _print_whatif(report)
    if not report["identical"]:
        raise SystemExit(1)


def report_digest(report: dict[str, Any]) -> str:
    """The digest of a report's figures (its timing left out), as a proposal records it."""
    figures = {k: v for k, v in report.items() if k not in ("seconds", "facts_per_second")}
    return "sha256:" + hashlib.sha256(orjson.dumps(figures, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _print_whatif(report: dict[str, Any]) -> None:
    table = Table("command", "recorded", "candidate", title=f"what-if: {report['candidate']['version']}")
    sides = report["commands_by_type"]
    for kind in sorted(set(sides["recorded"]) | set(sides["candidate"])):
        table.add_row(kind, str(sides["recorded"].get(kind, 0)), str(sides["candidate"].get(kind, 0)))
    console.print(table)
    locks = report["locks"]
    click.echo(
        f"locked under recorded only: {len(locks['locked_only_recorded'])}, under candidate only: "
        f"{len(locks['locked_only_candidate'])}; first lock earlier: {locks['first_lock_earlier']}, "
        f"later: {locks['first_lock_later']}"
    )
    differing = report["differing_accounts"]
    listed = ", ".join(differing[:SHOWN])
    more = f" and {len(differing) - SHOWN} more (--json or --html list them all)" if len(differing) > SHOWN else ""
    click.echo(
        f"{report['differing_count']} of {report['accounts']} accounts differ{': ' + listed if listed else ''}{more}"
    )
    click.echo(f"{report['facts']} facts in {report['seconds']}s ({report['facts_per_second'] or 0:,} facts/s)")


audit.add_command(explain)
