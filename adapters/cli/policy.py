"""`fengkong policy`: the policies the store recorded, their differences, and activation with four eyes.

\b
list / show / diff        read (no key needed)
propose FILE              an admin records a candidate (its full text) for activation
report VERSION            runs the what-if over recorded history and attaches its figures
shadow VERSION            attaches the candidate's shadow period (run `ingest|worker --shadow FILE` first)
approve VERSION           another admin approves: the candidate becomes the active policy
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.table import Table

from adapters import bootstrap
from adapters.audit.documents import policy_differences, policy_rows, policy_view
from adapters.audit.html import render
from adapters.audit.parallel import default_jobs
from adapters.audit.progress import ReplayProgress
from adapters.audit.whatif import report_summary, whatif_report
from adapters.cli.audit import report_digest
from adapters.cli.common import (
    console,
    emit_json,
    json_option,
    key_option,
    load_settings,
    open_engine,
    problem_of,
    progress_console,
    store_option,
)
from adapters.cli.governance import acting_admin, refusals, save
from adapters.shadow.report import choose_run, shadow_report, shadow_summary
from adapters.shadow.tables import ShadowTables
from engine.application import RiskEngine
from engine.documents import DocumentBook
from engine.governance import Requested
from engine.whatif import Period
from events.documents import POLICIES


@click.group()
def policy() -> None:
    """Policies: the versions the store recorded, their settings and differences, activation with four eyes."""


def _book(store: str | None) -> tuple[RiskEngine, DocumentBook]:
    engine = open_engine(load_settings(store=store))
    return engine, engine.document_book(POLICIES)


@contextmanager
def _readable(name: str) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    except ValueError as error:
        raise click.ClickException(f"{name}: does not validate: {problem_of(error)}") from None


@policy.command("list")
@store_option
@json_option
def policy_list(store: str | None, as_json: bool) -> None:
    """The policy versions the store recorded (with their steps), and the shipped ones it has not."""
    _, book = _book(store)
    rows = policy_rows(book)
    if as_json:
        emit_json(rows)
        return
    table = Table("version", "status", "digest", "proposed by", "report", "shadow", "approved by")
    for row in rows:
        table.add_row(
            row["version"],
            row["status"],
            row.get("digest", "")[:19],
            row.get("proposed_by") or "",
            "yes" if row.get("report") else "",
            "yes" if row.get("shadow") else "",
            row.get("approved_by") or "",
        )
    console.print(table)


@policy.command("show")
@click.argument("name", default="default-v1", metavar="VERSION|FILE")
@click.option("--text", "as_text", is_flag=True, help="Print the policy's full text, as recorded.")
@store_option
def policy_show(name: str, as_text: bool, store: str | None) -> None:
    """A policy (recorded version, file or shipped version): settings, digest and steps as JSON, or its text."""
    engine, book = _book(store)
    with _readable(name):
        view = policy_view(book, name, engine.documents().scorecard_for)
    if as_text:
        click.echo(view["text"], nl=False)
        return
    emit_json({key: value for key, value in view.items() if key != "text"})


@policy.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@store_option
@json_option
def policy_diff(a: str, b: str, store: str | None, as_json: bool) -> None:
    """The settings that differ between two policies (recorded versions, files or shipped versions)."""
    engine, book = _book(store)
    with _readable(f"{a} or {b}"):
        found = policy_differences(book, a, b, engine.documents().scorecard_for)
    if as_json:
        emit_json(found)
        return
    if not found["differences"]:
        click.echo(f"{found['a']} and {found['b']} have the same settings")
        return
    table = Table("setting", found["a"], found["b"])
    for row in found["differences"]:
        table.add_row(row["setting"], str(row["a"]), str(row["b"]))
    console.print(table)


@policy.command("propose")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE")
@key_option
@store_option
def propose(path: Path, key: str | None, store: str | None) -> None:
    """Record a candidate policy (its full text) for activation; you are its author (admin key)."""
    settings = load_settings(store=store, key=key)
    admin = acting_admin(settings)
    engine = open_engine(settings)
    with _readable(str(path)):
        requested = Requested.of(path.read_text(encoding="utf-8"))
    document = requested.document
    book = engine.document_book(POLICIES)
    with refusals():
        engine.documents().check(requested)  # its scorecard too: a recorded version is immutable
        book.propose(document, admin)
    save(engine, book)
    click.echo(f"proposed {document.version} ({document.digest[:19]}) by {admin}")
    progress_console.print(
        f"next: `fengkong policy report {document.version}`, a shadow run "
        f"(`ingest|worker --shadow {path}`, then `fengkong policy shadow {document.version}`), "
        "then another admin's `fengkong policy approve`"
    )


@policy.command("report")
@click.argument("version")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the report.")
@click.option("--jobs", default=default_jobs(), show_default=True, help="Processes replaying accounts.")
@key_option
@store_option
def attach_report(version: str, html_path: Path | None, jobs: int, key: str | None, store: str | None) -> None:
    """Run the what-if of a proposed version over all recorded history and attach its figures (admin key)."""
    settings = load_settings(store=store, key=key)
    admin = acting_admin(settings)
    engine = open_engine(settings)
    document = engine.document_book(POLICIES).document(version)
    if document is None:
        raise click.ClickException(f"policy {version} is not recorded: `fengkong policy propose FILE` first")
    head = engine.head()
    candidate = engine.documents().policy_of(document.text)
    report = whatif_report(settings, candidate, Period(), None, jobs, ReplayProgress("whatif"))
    if html_path is not None:
        html_path.write_text(render(report, settings.store), encoding="utf-8")
    book = engine.document_book(POLICIES)
    with refusals():
        book.attach_report(version, admin, report_summary(report, report_digest(report), head))
    save(engine, book)
    click.echo(
        f"what-if report attached to {version} by {admin}: {report['differing_count']} of "
        f"{report['accounts']} accounts differ"
    )


@policy.command("shadow")
@click.argument("version")
@key_option
@store_option
def attach_shadow(version: str, key: str | None, store: str | None) -> None:
    """Attach the shadow period of a proposed version (its shadow run's comparison so far; admin key)."""
    settings = load_settings(store=store, key=key)
    admin = acting_admin(settings)
    engine = open_engine(settings)
    tables = ShadowTables(bootstrap.open_tables(settings))
    try:
        run = choose_run(tables, version)
        summary = shadow_summary(shadow_report(tables, run))
    except LookupError as error:
        raise click.ClickException(str(error).strip("'\"")) from None
    finally:
        tables.db.close()
    book = engine.document_book(POLICIES)
    with refusals():
        book.attach_shadow(version, admin, summary)
    save(engine, book)
    facts, differing = summary["facts"], summary["differing_count"]
    click.echo(f"shadow period attached to {version} by {admin}: {facts} facts, {differing} accounts differ")


@policy.command("approve")
@click.argument("version")
@key_option
@store_option
def approve(version: str, key: str | None, store: str | None) -> None:
    """Approve a proposed version (an admin other than its author): it becomes the active policy."""
    settings = load_settings(store=store, key=key)
    admin = acting_admin(settings)
    engine = open_engine(settings)
    book = engine.document_book(POLICIES)
    with refusals():
        book.approve(version, admin)
    save(engine, book)
    click.echo(f"{version} approved by {admin}: it is the active policy; running workers take it within seconds")
