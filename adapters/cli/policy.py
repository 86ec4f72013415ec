"""`fengkong policy`: the policies the store recorded, their differences, and activation with four eyes.

\b
list / show / diff        read (no key needed)
propose FILE              an admin records a candidate (its full text) for activation
report VERSION            runs the what-if over recorded history and attaches its figures
shadow VERSION            attaches the candidate's shadow period (run `ingest|worker --shadow FILE` first)
approve VERSION           another admin approves: the candidate becomes the active policy
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from adapters import bootstrap
from adapters.audit.html import render
from adapters.audit.parallel import default_jobs
from adapters.audit.progress import ReplayProgress
from adapters.audit.whatif import report_summary, whatif_report
from adapters.cli.audit import report_digest
from adapters.cli.common import console, emit_json, json_option, key_option, load_settings, open_engine, store_option
from adapters.cli.governance import acting_admin, refusals, save
from adapters.settings import Settings
from adapters.shadow.report import choose_run, shadow_report, shadow_summary
from adapters.shadow.tables import ShadowTables
from engine.application import RiskEngine
from engine.documents import Document, Entry
from engine.governance import Requested
from engine.policy import Policy, policy_text, settings_diff, shipped_policies
from engine.whatif import Period
from events.documents import POLICIES


@click.group()
def policy() -> None:
    """Policies: the versions the store recorded, their settings and differences, activation with four eyes."""


def status_of(entry: Entry, active: str | None) -> str:
    if entry.document.version == active:
        return "active"
    if entry.activated_at is not None:
        return "retired"
    if entry.proposed_by is not None:
        return "proposed"
    return "recorded"


def policy_rows(engine: RiskEngine) -> list[dict[str, Any]]:
    """Every recorded version with its steps, then the shipped seeds the store has not recorded."""
    book = engine.document_book(POLICIES)
    rows = [
        {
            "version": version,
            "status": status_of(entry, book.active),
            "digest": entry.document.digest,
            **entry.steps(),
        }
        for version, entry in book.entries.items()
    ]
    rows += [
        {"version": name, "status": "shipped (not recorded)"} for name in shipped_policies() if name not in book.entries
    ]
    return rows


def resolve(engine: RiskEngine, name_or_path: str) -> tuple[Policy, Document, str]:
    """A policy by recorded version, file or shipped version, and where it came from."""
    recorded = engine.document_book(POLICIES).document(name_or_path)
    if recorded is not None:
        requested, origin = Requested.of(recorded.text), "recorded in the store"
    else:
        path = Path(name_or_path)
        origin = "file" if path.suffix == ".toml" or path.exists() else "shipped with the engine"
        requested = Requested.of(policy_text(name_or_path))
    return requested.policy, requested.document, origin


def _reading(store: str | None) -> tuple[Settings, RiskEngine]:
    settings = load_settings(store=store)
    return settings, open_engine(settings)


def _resolve_or_fail(engine: RiskEngine, name: str) -> tuple[Policy, Document, str]:
    try:
        return resolve(engine, name)
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    except ValueError as error:
        raise click.ClickException(f"{name}: does not validate: {str(error).splitlines()[0]}") from None


@policy.command("list")
@store_option
@json_option
def policy_list(store: str | None, as_json: bool) -> None:
    """The policy versions the store recorded (with their steps), and the shipped ones it has not."""
    _, engine = _reading(store)
    rows = policy_rows(engine)
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
@click.option("--text", "as_text", is_flag=True, help="Print the policy's full text as recorded.")
@store_option
def policy_show(name: str, as_text: bool, store: str | None) -> None:
    """A policy's settings as JSON (recorded version, file or shipped version), or its full text."""
    _, engine = _reading(store)
    found, document, origin = _resolve_or_fail(engine, name)
    if as_text:
        click.echo(document.text, nl=False)
        return
    book = engine.document_book(POLICIES)
    entry = book.entries.get(document.version)
    steps = None if entry is None or entry.document.digest != document.digest else entry.steps()
    emit_json(
        {
            **found.model_dump(mode="json"),
            "_recorded": {"origin": origin, "digest": document.digest, "steps": steps},
        }
    )


@policy.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@store_option
@json_option
def policy_diff(a: str, b: str, store: str | None, as_json: bool) -> None:
    """The settings that differ between two policies (recorded versions, files or shipped versions)."""
    _, engine = _reading(store)
    left, _, _ = _resolve_or_fail(engine, a)
    right, _, _ = _resolve_or_fail(engine, b)
    rows = [{"setting": name, left.version: x, right.version: y} for name, x, y in settings_diff(left, right)]
    if as_json:
        emit_json({"a": left.version, "b": right.version, "differences": rows})
        return
    if not rows:
        click.echo(f"{left.version} and {right.version} have the same settings")
        return
    table = Table("setting", left.version, right.version)
    for name, x, y in settings_diff(left, right):
        table.add_row(name, str(x), str(y))
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
    _, document, _ = _resolve_or_fail(engine, str(path))
    book = engine.document_book(POLICIES)
    with refusals():
        book.propose(document, admin)
    save(engine, book)
    click.echo(f"proposed {document.version} ({document.digest[:19]}) by {admin}")
    console.print(
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
    report = whatif_report(settings, Requested.of(document.text), Period(), None, jobs, ReplayProgress("whatif"))
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
