"""`fengkong score`: list, train, evaluate, explain and monitor the default-probability scorecard."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.table import Table

from adapters import bootstrap
from adapters.audit.documents import scorecard_rows
from adapters.cli.common import (
    console,
    emit_json,
    json_option,
    load_settings,
    open_engine,
    progress_console,
    store_option,
)
from adapters.scoring import files
from adapters.scoring.dataset import CensoredLabels
from adapters.scoring.jobs import evaluate_scorecard, explain_account, monitor_scorecard, train_scorecard
from adapters.scoring.monitor import Stability
from adapters.scoring.train import ModellingUnavailable, default_version
from adapters.settings import Settings
from adapters.store.score_monitor import ScoreMonitorStore
from engine.application import RiskEngine
from engine.scoring.scorecard import Scorecard

_DATE = click.DateTime(formats=["%Y-%m-%d"])


@contextmanager
def _one_line() -> Iterator[None]:
    """An operator's mistake (a missing file, censored labels, ...) is one line and exit 1, never a traceback."""
    try:
        yield
    except ValidationError as error:
        raise click.ClickException(f"not a valid scorecard file ({error.error_count()} problems)") from None
    except (
        FileNotFoundError,
        LookupError,
        CensoredLabels,
        files.ScorecardExists,
        ModellingUnavailable,
        ValueError,
    ) as error:
        raise click.ClickException(str(error).strip("'\"")) from None


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def scorecard_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--scorecard",
        default=None,
        metavar="VERSION|FILE",
        help="A scorecard version (recorded in the store, in the scorecards folder, or shipped) or file; default: "
        "env FENGKONG_SCORECARD, else the one the store's active policy names, else the folder's latest trained.",
    )(command)


def _scorecard(settings: Settings, engine: RiskEngine, name: str | None) -> Scorecard:
    return files.resolve(name or settings.scorecard, Path(settings.scorecards), engine.documents())


@click.group()
def score() -> None:
    """The default-probability scorecard: list (as recorded in the store), train, evaluate, explain, monitor."""


@score.command("list")
@store_option
@json_option
def list_command(store: str | None, as_json: bool) -> None:
    """The scorecards the store recorded (with the policies naming them), and the shipped ones it has not."""
    engine = open_engine(load_settings(store=store))
    with _one_line():
        rows = scorecard_rows(engine.documents())
    if as_json:
        emit_json(rows)
        return
    table = Table("version", "status", "digest", "recorded", "named by")
    for row in rows:
        recorded = row.get("recorded")
        when = "" if recorded is None else f"{_instant(recorded['at'])} by {recorded['by']} ({recorded['note']})"
        table.add_row(row["version"], row["status"], row.get("digest", "")[:19], when, ", ".join(row["named_by"]))
    console.print(table)


def _instant(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="seconds")


@score.command("train")
@click.option("--as-of", "as_of", type=_DATE, required=True, help="Features as of the end of this day (Asia/Shanghai).")
@click.option("--horizon-days", type=click.IntRange(1, 730), required=True, help="Label: 30+ days past due within.")
@click.option(
    "--oot-as-of", type=_DATE, default=None, help="The out-of-time window's as-of (default: as-of + horizon)."
)
@click.option("--version", "version", default=None, help="The scorecard's version (default pd-<as-of>-h<horizon>).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="The file to write.")
@click.option("--description", default="", help="Free text recorded in the file (what it was trained on).")
@store_option
@json_option
def train_command(
    as_of: datetime,
    horizon_days: int,
    oot_as_of: datetime | None,
    version: str | None,
    out: Path | None,
    description: str,
    store: str | None,
    as_json: bool,
) -> None:
    """Bin the features, fit a logistic regression, scale to points and write a versioned scorecard file."""
    settings = load_settings(store=store)
    name = version or default_version(as_of.date(), horizon_days)
    path = out or Path(settings.scorecards) / f"{name}.json"
    with _one_line():
        progress_console.print(f"reading the store's histories as of {as_of.date()} (+{horizon_days} days)…")
        trained = train_scorecard(
            open_engine(settings), as_of.date(), horizon_days, name, path, _day(oot_as_of), description
        )
    summary = trained.summary()
    if as_json:
        emit_json(summary)
        return
    console.print(f"scorecard {name}: {'written to' if trained.written else 'unchanged at'} {path}")
    table = Table("attribute", "information value", "coefficient", "points per bin", title=name)
    for attribute in summary["attributes"]:
        table.add_row(
            attribute["name"],
            f"{attribute['information_value']:.3f}",
            f"{attribute['coefficient']:.3f}",
            " ".join(str(p) for p in attribute["points"]),
        )
    console.print(table)
    click.echo(_metrics_line("training", summary["training"]))
    if "auc" in summary["out_of_time"]:
        click.echo(_metrics_line("out of time", summary["out_of_time"]))


def _metrics_line(title: str, window: dict[str, Any]) -> str:
    return (
        f"{title} (as of {window['as_of']}, {window['horizon_days']} days): AUC {window['auc']:.4f} "
        f"vs days-past-due baseline {window['baseline_auc']:.4f}, KS {window['ks']:.4f}, "
        f"{window['accounts']} accounts, {window['positives']} reached 30+ days past due"
    )


@score.command("evaluate")
@scorecard_option
@click.option("--as-of", "as_of", type=_DATE, default=None, help="Default: the scorecard's out-of-time window.")
@click.option("--horizon-days", type=click.IntRange(1, 730), default=None, help="Default: the scorecard's.")
@store_option
@json_option
def evaluate_command(
    scorecard: str | None, as_of: datetime | None, horizon_days: int | None, store: str | None, as_json: bool
) -> None:
    """AUC and KS on a later (out-of-time) window, beside ranking by current days past due alone."""
    settings = load_settings(store=store)
    with _one_line():
        engine = open_engine(settings)
        card = _scorecard(settings, engine, scorecard)
        result = evaluate_scorecard(engine, card, _day(as_of), horizon_days)
    body = {"scorecard": card.version, **result.as_dict()}
    if as_json:
        emit_json(body)
        return
    click.echo(
        f"{card.version} as of {result.as_of} (+{result.horizon_days} days): AUC {result.auc:.4f} vs baseline "
        f"{result.baseline_auc:.4f}; KS {result.ks:.4f} vs {result.baseline_ks:.4f}; "
        f"{result.n} accounts, {result.positives} positives; score PSI {result.psi} ({result.psi_alert})"
    )


@score.command("explain")
@click.argument("account_id")
@scorecard_option
@click.option("--as-of", "as_of", type=_DATE, default=None, help="Default: the last closed business day.")
@store_option
@json_option
def explain_command(
    account_id: str, scorecard: str | None, as_of: datetime | None, store: str | None, as_json: bool
) -> None:
    """The points each attribute contributed to an account's score, and the top three reason codes."""
    settings = load_settings(store=store)
    with _one_line():
        engine = open_engine(settings)
        card = _scorecard(settings, engine, scorecard)
        body = explain_account(engine, card, account_id, _day(as_of))
    if as_json:
        emit_json(body)
        return
    table = Table("attribute", "value", "bin", "points", "below best", title=f"{account_id} as of {body['as_of']}")
    table.add_row("base points", "", "", str(body["base_points"]), "")
    for part in body["contributions"]:
        value = "-" if part["value"] is None else str(part["value"])
        table.add_row(part["attribute"], value, part["bin"], str(part["points"]), str(part["below_best"]))
    console.print(table)
    click.echo(
        f"score {body['score']} ({body['scorecard']}), probability {body['probability']}, tier {body['tier']}; "
        f"reasons: {', '.join(body['reasons']) or 'none'}"
    )


@score.command("monitor")
@scorecard_option
@click.option("--until", type=_DATE, default=None, help="The last month end to report (default: last closed day).")
@click.option(
    "--record/--no-record",
    default=True,
    show_default=True,
    help="Record the report in the store: `fengkong status` and /metrics show its last month.",
)
@store_option
@json_option
def monitor_command(
    scorecard: str | None, until: datetime | None, record: bool, store: str | None, as_json: bool
) -> None:
    """Population stability (PSI) of the score and each attribute per month against training, with trends."""
    settings = load_settings(store=store)
    with _one_line():
        engine = open_engine(settings)
        card = _scorecard(settings, engine, scorecard)
        report = monitor_scorecard(engine, card, _day(until))
    if record:
        _record(settings, report.as_dict(), report.months[-1].as_of if report.months else "")
    if as_json:
        emit_json(report.as_dict())
        return
    months = report.months
    table = Table("", *(m.month for m in months), "trend", title=f"{card.version}: PSI against training")
    table.add_row("accounts", *(str(m.accounts) for m in months), "")
    rows: list[tuple[str, list[Stability]]] = [("score", [m.score for m in months])]
    rows += [(a.name, [m.attributes[a.name] for m in months]) for a in card.attributes]
    for name, cells in rows:
        table.add_row(name, *(_cell(c.psi, c.alert) for c in cells), report.trends[name]["direction"])
    console.print(table)
    click.echo(f"alert: {report.alert} (PSI marked ~ from 0.1: watch, ! from 0.25: act)")


def _record(settings: Settings, report: dict[str, Any], until: str) -> None:
    tables = bootstrap.open_tables(settings)
    try:
        monitor = ScoreMonitorStore(tables)
        monitor.prepare()
        monitor.record(report, until)
    finally:
        tables.close()


def _cell(index: float | None, alert: str | None) -> str:
    if index is None:
        return "-"
    return f"{index:.2f}" + {"watch": "~", "act": "!"}.get(alert or "", "")
