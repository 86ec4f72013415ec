"""`fengkong status`: lag, positions, reviews near their deadline, the brake, scorecard PSI (also `/status`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from rich.table import Table

from adapters import bootstrap
from adapters.cli.common import console, emit_json, json_option, load_settings, progress_console, store_option
from adapters.monitoring import status as status_report
from adapters.monitoring.status import ReviewWindow


@click.command()
@click.option(
    "--within",
    type=click.IntRange(0, 60),
    default=None,
    help="Business days before a review's deadline that count as near (env FENGKONG_REVIEW_WARNING_DAYS, 1).",
)
@click.option("--limit", type=click.IntRange(0), default=50, show_default=True, help="Near reviews listed at most.")
@store_option
@json_option
def status(within: int | None, limit: int, store: str | None, as_json: bool) -> None:
    """How far each part has got and what needs an operator soon (exit 0 whatever it finds)."""
    settings = load_settings(store=store, review_warning_days=within)
    window = bootstrap.review_window(settings)
    log, db = bootstrap.open_log(settings), bootstrap.open_tables(settings)
    try:
        report = status_report.report(status_report.take_snapshot(log, db, window, limit), window)
    finally:
        db.close()
        log.close()
    if as_json:
        emit_json(report)
    else:
        _print(report, window)


def _print(report: dict[str, Any], window: ReviewWindow) -> None:
    console.print(f"[bold]store[/bold]: head {report['store']['head']}")
    table = Table(
        "projection", "version", "position", "lag (events)", "lag (s)", title="read models", title_justify="left"
    )
    for p in report["projections"]:
        table.add_row(p["name"], str(p["version"]), str(p["position"]), str(p["lag_events"]), str(p["lag_seconds"]))
    console.print(table)
    for source in report["sources"]:
        offsets = ", ".join(f"{partition}: {offset}" for partition, offset in source["next_offsets"].items())
        console.print(f"[bold]{source['source']}[/bold] next offsets {offsets}")
    for relay in report["relays"]:
        console.print(
            f"[bold]relay to {relay['topic']}[/bold]: "
            f"next notification {relay['next_notification']}, lag {relay['lag_events']}"
        )
    reviews = report["reviews"]
    if reviews is None:
        console.print("reviews: no read models yet (fengkong projections catch-up)")
    else:
        near = reviews["near_deadline"]
        console.print(
            f"[bold]reviews[/bold] on {reviews['latest_business_date'] or 'no closed date yet'}: "
            f"{reviews['open']} open, {reviews['deadline_breached']} past their deadline, "
            f"{near['count']} due within {window.business_days} business day(s)"
        )
        if near["reviews"]:
            listed = Table("account", "request", "applied on", "deadline")
            for row in near["reviews"]:
                listed.add_row(
                    row["account_id"], row["review_request_id"], str(row["review_requested_on"]), row["review_deadline"]
                )
            console.print(listed)
    calendar = report["calendar"]
    console.print(f"[bold]calendar[/bold]: {calendar['version']}, schedules up to {calendar['last_year']}")
    if calendar["warning"]:
        progress_console.print(f"[bold red]warning[/bold red]: {calendar['warning']}")
    brake = report["brake"]
    since = f" since {brake['tripped_since']}" if brake["tripped_since"] else ""
    console.print(
        f"[bold]brake[/bold]: {brake['state']}{since}; {brake['held']} locks held for an operator; "
        f"{brake['locks_in_window']} emitted in the {brake['window_minutes']} minutes to {brake['window_end'] or '-'}, "
        f"bound {brake['bound'] if brake['bound'] is not None else '-'} "
        f"({brake['active_accounts'] if brake['active_accounts'] is not None else '-'} active accounts)"
    )
    stuck = report["stuck_locks"]
    if stuck is not None:
        console.print(f"[bold]stuck locks[/bold]: {stuck['count']} accounts locked without an active reason")
    _print_scorecard(report["scorecard"])


def _print_scorecard(stability: dict[str, Any] | None) -> None:
    if stability is None:
        console.print("[bold]scorecard[/bold]: not monitored yet (fengkong score monitor records its stability)")
        return
    if stability["month"] is None:
        console.print(f"[bold]scorecard[/bold] {stability['scorecard']}: no month monitored yet")
        return
    drifting = [
        f"{name} {figures['psi']:.2f} ({figures['alert']})"
        for name, figures in stability["attributes"].items()
        if figures["alert"] in ("watch", "act")
    ]
    score = stability["score"]
    monitored = datetime.fromisoformat(stability["recorded_at"]).isoformat(timespec="seconds")
    console.print(
        f"[bold]scorecard[/bold] {stability['scorecard']}, {stability['month']} "
        f"(monitored {monitored}): alert {stability['alert']}; "
        f"score PSI {score['psi']} ({score['alert']})" + (f"; {', '.join(drifting)}" if drifting else "")
    )
