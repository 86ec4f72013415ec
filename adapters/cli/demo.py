"""`fengkong demo`: a synthetic portfolio through the engine, summarised for a risk officer."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Literal

import click
import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from adapters import bootstrap
from adapters.audit.parallel import default_jobs
from adapters.cli.common import (
    check_output,
    console,
    default_dead_letter,
    emit_json,
    json_option,
    load_settings,
    open_engine,
    progress_console,
    store_option,
    writable_store,
)
from adapters.cli.errors import Exit, Mistake
from adapters.cli.projections import catch_up_with_progress
from adapters.files.jsonl import DeadLetterFile, dead_letter_record
from adapters.scoring.jobs import Trained, train_scorecard
from adapters.scoring.train import ModellingUnavailable
from adapters.settings import Settings
from adapters.store import queries
from adapters.store.demo_marker import demo_accounts, mark_demo
from adapters.store.probe import Found, probe
from adapters.store.urls import is_postgres, redact, sqlite_path
from adapters.synthetic.gateway import NoticeGateway
from adapters.synthetic.latent import LatentPortfolio
from engine.application import RiskEngine
from engine.batch import Outcome, Result
from engine.scoring.scorecard import Window
from events.commands import SendNotice
from events.recorded import account_status, delinquency_bucket
from events.rules import Rule

DEMO_ACCOUNTS = 4800  # enough for 1,000+ positives in the scorecard's out-of-time window (docs/scorecard.md)
DEMO_POLICY = "default-v2"  # so the watch list, reminders, notice outcomes and the score show
DEMO_HORIZON = 120  # days: the scorecard's label window
DEMO_DESCRIPTION = "trained by fengkong demo on its synthetic portfolio (adapters/synthetic/latent.py)"


def _refuse_foreign_accounts(settings: Settings, force: bool) -> None:
    """Refuses a store demo did not create.

    SQLite: unless --force (which replaces the file). PostgreSQL: always (a shared
    database is never emptied by a demo), as soon as it holds one account demo did not create.
    """
    found = probe(settings.store).found  # unreachable or malformed: the CLI's one-line answers
    if found is Found.FOREIGN:
        writable_store(settings)  # says what is there instead
    if found is not Found.STORE:
        return
    tables = bootstrap.open_tables(settings)
    try:
        ours = demo_accounts(tables)
    finally:
        tables.close()
    others = [account for account in open_engine(settings).account_ids() if account not in (ours or set())]
    if is_postgres(settings.store) and others:
        raise Mistake(
            Exit.DEMO_REFUSED,
            f"{redact(settings.store)} holds {len(others)} accounts demo did not create: demo never writes into it",
        )
    if (ours is None or others) and not force:
        raise Mistake(
            Exit.DEMO_REFUSED,
            f"{redact(settings.store)} holds a store demo did not create: give --force to replace it",
        )


def _fresh_sqlite(settings: Settings) -> None:
    """Start the demo on an empty embedded store (its dead letters too)."""
    if is_postgres(settings.store):
        return
    path = sqlite_path(settings.store)
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), default_dead_letter(settings)):
        leftover.unlink(missing_ok=True)


class _Tally:
    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.commands: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()
        self.card: Counter[tuple[str, str]] = Counter()  # (command type, rule) of card commands
        self.deferred = 0
        self.notices: list[SendNotice] = []  # the batch's, for the gateway

    def add(self, result: Result) -> None:
        self.outcomes[result.outcome] += 1
        self.rules.update(result.rules)
        for command in result.commands:
            self.commands[command.type] += 1
            if command.type in ("LockCard", "UnlockCard"):
                self.card[command.type, command.rule] += 1
            if isinstance(command, SendNotice):
                self.notices.append(command)
                if command.deliver_at != command.occurred_at:
                    self.deferred += 1

    def sent(self) -> list[SendNotice]:
        notices, self.notices = self.notices, []
        return notices


@click.command()
@click.option("--accounts", default=DEMO_ACCOUNTS, show_default=True, help="Accounts in the synthetic portfolio.")
@click.option("--days", default=365, show_default=True, help="Days of billing to simulate (a year shows repair too).")
@click.option("--seed", default=7, show_default=True, help="Random seed: same seed, same events.")
@click.option("--append", is_flag=True, help="Keep what the SQLite store already holds.")
@click.option("--force", is_flag=True, help="Replace a SQLite store that demo did not create.")
@click.option(
    "--policy",
    default=DEMO_POLICY,
    show_default=True,
    help="The policy to decide under (a shipped version or a file); FENGKONG_POLICY is not read here.",
)
@click.option(
    "--score/--no-score",
    default=True,
    show_default=True,
    help="Train the scorecard on the demo store and print its out-of-time AUC beside the baseline's.",
)
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the generated events to this JSONL file.",
)
@store_option
@json_option
def demo(
    accounts: int,
    days: int,
    seed: int,
    append: bool,
    force: bool,
    policy: str,
    score: bool,
    export_path: Path | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Run a seeded synthetic portfolio through the engine on the default store.

    Afterwards `fengkong account`, `commands` and `audit` work on what it wrote.
    It writes only into a store it created (a mark in the store says so):
    another SQLite store is replaced only with --force, a PostgreSQL store
    holding other accounts never.
    """
    settings = load_settings(store=store, policy=policy)
    if export_path is not None:
        check_output(export_path)
    writable_store(settings)
    _refuse_foreign_accounts(settings, force)
    if not append:
        _fresh_sqlite(settings)
    engine = open_engine(settings, deciding=True)
    portfolio = LatentPortfolio(accounts, days, seed, noise=True)
    gateway = NoticeGateway(portfolio, seed)
    tables = bootstrap.open_tables(settings)
    try:
        mark_demo(tables, (account.account_id for account in portfolio.accounts))
    finally:
        tables.close()
    tally = _Tally()
    export = export_path.open("wb") if export_path else None
    started = time.perf_counter()
    columns = (
        TextColumn("simulating billing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[events]} events"),
    )
    with (
        DeadLetterFile(default_dead_letter(settings)) as letters,
        Progress(*columns, console=progress_console, disable=as_json) as progress,
    ):
        task = progress.add_task("days", total=days, events=0)
        for offset, day in enumerate(portfolio.days_of_events()):
            lines = [orjson.dumps(event) for event in day]
            if export:
                export.writelines(line + b"\n" for line in lines)
            for result in engine.process(lines):
                tally.add(result)
                if result.outcome is Outcome.REJECTED:
                    letters.write(
                        dead_letter_record(
                            lines[result.index], result.reason or "", "demo", result.sealed, event_id=result.event_id
                        )
                    )
            gateway.sent(offset, tally.sent())
            progress.update(task, advance=1, events=sum(tally.outcomes.values()))
    if export:
        export.close()
    elapsed = time.perf_counter() - started
    summary = _summarise(engine, tally, elapsed, letters)
    summary["read_models"] = catch_up_with_progress(settings, default_jobs(), "building read models", not as_json)
    summary["early_warning"] = _early_warning(settings, tally)
    if score:
        summary["scorecard"] = _scorecard(engine, settings, portfolio, seed, not append, as_json)
    if as_json:
        emit_json(summary)
    else:
        _print(summary)


def _scorecard(
    engine: RiskEngine, settings: Settings, portfolio: LatentPortfolio, seed: int, fresh: bool, as_json: bool
) -> dict[str, object]:
    """Train on the demo store, measure out of time, and say how it compares with the days-past-due baseline.

    Training as of `days - 1 - 2 * horizon` (the accounts are 3+ months on
    book by then), labels over the next 120 days, the out-of-time window right
    after it, ending on the last simulated day.
    """
    start, days, accounts = portfolio.start, portfolio.days, len(portfolio.accounts)
    as_of = start + timedelta(days=days - 1 - 2 * DEMO_HORIZON)
    if as_of < start + timedelta(days=95):
        return {"skipped": f"needs at least {96 + 2 * DEMO_HORIZON} days of billing"}
    version = f"demo-s{seed}-a{accounts}-{as_of.isoformat()}-h{DEMO_HORIZON}"
    path = Path(settings.scorecards) / f"{version}.json"
    if fresh:
        path.unlink(missing_ok=True)  # trained on the store the demo just replaced
    started = time.perf_counter()
    if not as_json:
        progress_console.print(f"training scorecard {version} on the demo store…")
    try:
        trained = train_scorecard(engine, as_of, DEMO_HORIZON, version, path, description=DEMO_DESCRIPTION)
    except (ModellingUnavailable, FileExistsError, ValueError) as error:
        return {"skipped": str(error)}
    return _scorecard_summary(trained, time.perf_counter() - started)


def _scorecard_summary(trained: Trained, seconds: float) -> dict[str, object]:
    card = trained.scorecard
    summary: dict[str, object] = {"version": card.version, "file": str(trained.path), "seconds": round(seconds, 1)}
    windows: tuple[tuple[Literal["training", "out_of_time"], Window], ...] = (
        ("training", card.training),
        ("out_of_time", card.out_of_time),
    )
    for name, window in windows:
        measured = card.metrics.get(name)
        summary[name] = (
            f"as of {window.as_of}, {window.horizon_days} days: {window.accounts} accounts, "
            f"{window.positives} reached 30+ days past due"
        )
        if measured is not None:
            summary[f"{name}_auc"] = measured.auc
            summary[f"{name}_baseline_auc"] = measured.baseline_auc
            summary[f"{name}_ks"] = measured.ks
    if "out_of_time" in card.metrics:
        oot = card.metrics["out_of_time"]
        summary["out_of_time_auc_over_baseline"] = round(oot.auc - oot.baseline_auc, 4)
        summary["out_of_time_score_psi"] = oot.psi
    return summary


def _early_warning(settings: Settings, tally: _Tally) -> dict[str, object]:
    """What the watch list and notice outcomes did, and an account watched before it first went overdue."""
    rules = tally.rules
    tables = bootstrap.open_tables(settings)
    try:
        found = queries.early_warning(tables, limit=1)
    finally:
        tables.close()
    example = None
    if found.first:
        first = found.first[0]
        example = (
            f"{first['account_id']}: on the watch list since {first['first_watch']:%Y-%m-%d %H:%M %z} "
            f"({first['reason']}), first overdue {first['first_overdue']:%Y-%m-%d}"
        )
    return {
        "accounts_watched": found.watched,
        "watched_before_their_first_overdue": found.watched_then_overdue,
        "example": example,
        "pre_due_reminders": rules[Rule.WATCH_REMINDER],
        "notices_resent_by_app_push": rules[Rule.NOTICE_RESEND],
        "promises_to_pay": rules[Rule.PROMISE_MADE],
        "promises_kept": rules[Rule.PROMISE_KEPT],
        "promises_broken_escalated": rules[Rule.PROMISE_BROKEN],
        "notices_held_for_a_promise": rules[Rule.NOTICE_SUSPENDED],
        "unlocks_withheld_by_the_score": rules[Rule.REVIEW_AUTO_APPROVE_WITHHELD],
    }


def _summarise(engine: RiskEngine, tally: _Tally, elapsed: float, letters: DeadLetterFile) -> dict[str, object]:
    statuses: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    bureau = dropped = 0
    for account_id in engine.account_ids():
        account = engine.account(account_id)
        if account is None:
            continue
        ledger, controls = account.ledger, account.controls
        statuses[account_status(controls.card_locked, controls.line_suspended, ledger.overdue_outstanding)] += 1
        buckets[delinquency_bucket(ledger.days_past_due)] += 1
        bureau += controls.bureau_flag
        dropped += controls.notices_dropped
    events = sum(tally.outcomes.values())
    rules = tally.rules
    return {
        "events": {
            "accepted": tally.outcomes[Outcome.ACCEPTED],
            "duplicates": tally.outcomes[Outcome.DUPLICATE],
            "rejected": tally.outcomes[Outcome.REJECTED],
            "dead_letter": str(letters.path) if letters.count else None,
            "seconds": round(elapsed, 2),
            "events_per_second": round(events / elapsed) if elapsed else None,
        },
        "commands": dict(sorted(tally.commands.items())),
        "card_locks": {
            "overdue": tally.card["LockCard", Rule.LOCK_OVERDUE],
            "broken_plan": tally.card["LockCard", Rule.LOCK_BROKEN_PLAN],
        },
        "card_unlocks": {
            "full_repayment": tally.card["UnlockCard", Rule.UNLOCK_FULL_REPAYMENT],
            "review_approved": tally.card["UnlockCard", Rule.REVIEW_APPROVED],
            "auto_approved_first_installment": tally.card["UnlockCard", Rule.REVIEW_AUTO_APPROVE],
            "plan_complete": tally.card["UnlockCard", Rule.PLAN_COMPLETE],
        },
        "notices": {
            "sent": rules[Rule.NOTICE_OVERDUE],
            "held_by_quiet_hours": tally.deferred,
            "dropped_by_frequency_cap": dropped,
        },
        "reviews": {
            "opened": rules[Rule.REVIEW_OPEN],
            "rejected": rules[Rule.REVIEW_REJECTED],
            "escalated_past_deadline": rules[Rule.REVIEW_ESCALATE],
        },
        "limits": {
            "cut_for_accumulation": rules[Rule.ACCUMULATION_LIMIT_CUT],
            "repair_steps": rules[Rule.REPAIR_LIMIT_STEP],
        },
        "bureau_flagged_accounts": bureau,
        "accounts_by_status": dict(statuses.most_common()),
        "accounts_by_delinquency_bucket": {
            name: buckets[name] for name in ("current", "1-30", "31-60", "61-90", "91-180", "180+")
        },
    }


def _print(summary: dict[str, object]) -> None:
    for title, section in summary.items():
        if isinstance(section, dict):
            table = Table(show_header=False, title=title.replace("_", " "), title_justify="left", min_width=50)
            for key, value in section.items():
                table.add_row(key.replace("_", " "), "-" if value is None else str(value))
            console.print(table)
        else:
            console.print(f"[bold]{title.replace('_', ' ')}[/bold]: {section}")
    card = summary.get("scorecard")
    if isinstance(card, dict) and "out_of_time_auc" in card:
        console.print(
            f"[bold]scorecard {card['version']}, out of time: AUC {card['out_of_time_auc']} "
            f"vs {card['out_of_time_baseline_auc']} ranking by days past due alone[/bold] ({card['out_of_time']})"
        )
    console.print(
        "next: fengkong account ACC0000001 | fengkong commands --limit 20 | fengkong audit --all\n"
        "      fengkong query watchlist | fengkong query notices | fengkong query queue\n"
        "      fengkong score evaluate | fengkong score explain ACC0000001 | fengkong score monitor\n"
        "      fengkong query accounts --locked | fengkong status\n"
        "the HTTP API and its metrics (every route but /healthz, /readyz and /docs needs a key):\n"
        "      export FENGKONG_KEY=$(fengkong keys create --role admin --name me)   # the store's first key\n"
        "      fengkong serve &\n"
        '      curl -H "Authorization: Bearer $FENGKONG_KEY" http://127.0.0.1:8000/metrics',
        soft_wrap=True,
    )
