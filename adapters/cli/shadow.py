"""`fengkong shadow`: the shadow runs of candidate policies and their comparison with what was decided.

A shadow is started by `fengkong ingest --shadow FILE` or `fengkong worker
--shadow FILE`: the candidate decides every fact recorded from then on, in a
read model, emitting nothing. `shadow report` compares it with the active
policy's recorded decisions over that period, as `audit whatif` does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click
from rich.table import Table

from adapters import bootstrap
from adapters.audit.html import render
from adapters.cli.audit import WhatIfError, _print_whatif
from adapters.cli.common import console, emit_json, json_option, load_settings, problem_of, store_option
from adapters.settings import Settings
from adapters.shadow.report import choose_run, shadow_report
from adapters.shadow.runner import ShadowRun
from adapters.shadow.tables import ShadowTables
from engine.documents import Refused
from engine.governance import Requested
from engine.policy import policy_text


@click.group()
def shadow() -> None:
    """Shadow runs: a candidate policy beside the active one on live traffic, emitting nothing."""


@contextlib.contextmanager
def _tables(settings: Settings) -> Iterator[ShadowTables]:
    tables = ShadowTables(bootstrap.open_tables(settings))
    try:
        yield tables
    finally:
        tables.db.close()


@shadow.command("list")
@store_option
@json_option
def shadow_list(store: str | None, as_json: bool) -> None:
    """The shadow runs on this store: candidate, period (store positions), facts seen."""
    with _tables(load_settings(store=store)) as tables:
        runs = tables.runs()
    if as_json:
        emit_json([{k: v for k, v in vars(run).items() if k != "text"} for run in runs])
        return
    table = Table("candidate", "digest", "from position", "next position", "facts", "started", "updated")
    for run in runs:
        table.add_row(
            run.version,
            run.digest[:19],
            str(run.started_position),
            str(run.position),
            str(run.facts),
            run.started_at,
            run.updated_at,
        )
    console.print(table)


@shadow.command("report")
@click.option("--policy", "version", default=None, metavar="VERSION", help="The candidate (needed if several run).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write an HTML report.")
@store_option
@json_option
def shadow_report_command(version: str | None, html_path: Path | None, store: str | None, as_json: bool) -> None:
    """The what-if comparison over the shadow period. Exit status: 0 no difference, 1 differences, 2 error."""
    settings = load_settings(store=store)
    with _tables(settings) as tables:
        try:
            report = shadow_report(tables, choose_run(tables, version))
        except LookupError as error:
            raise WhatIfError(str(error).strip("'\"")) from None
    if html_path is not None:
        html_path.write_text(
            render(
                {
                    **report,
                    "period": {
                        "from": f"position {report['period']['from_position']}",
                        "to": f"position {report['period']['to_position']}",
                    },
                },
                settings.store,
            ),
            encoding="utf-8",
        )
    if as_json:
        emit_json(report)
    else:
        _print_whatif({**report, "seconds": 0, "facts_per_second": None})
    if not report["identical"]:
        raise SystemExit(1)


def start_shadow(settings: Settings) -> ShadowRun | None:
    """The shadow run of `settings.shadow` (None without one), begun if new: one line if it cannot run."""
    if settings.shadow is None:
        return None
    try:
        run = ShadowRun(settings, Requested.of(policy_text(settings.shadow)))
        run.start()
    except FileNotFoundError as error:
        raise click.ClickException(f"--shadow: {error}") from None
    except Refused as refused:
        raise click.ClickException(f"--shadow: {refused.reason}") from None
    except ValueError as error:
        raise click.ClickException(f"--shadow: the policy does not validate: {problem_of(error)}") from None
    return run
