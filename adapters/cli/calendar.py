"""`fengkong calendar`: the holiday calendars the store recorded; an admin loads a year's official schedule.

Review deadlines count business days on the calendar the store records
(engine.business_days): each `load` records a new version (the active one
with the loaded years' schedules) that new decisions cite; decisions taken
before keep the version they cite, in replay too.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from adapters.audit.documents import calendar_rows
from adapters.cli.common import (
    console,
    emit_json,
    json_option,
    key_option,
    load_settings,
    open_engine,
    progress_console,
    store_option,
)
from adapters.cli.governance import acting_admin, refusals, save
from engine.business_days import CalendarError, from_canonical, parse_schedule_file, schedule_file
from engine.documents import Document, DocumentBook
from engine.governance import seed_calendar_document
from events.documents import CALENDARS, digest_of


@click.group()
def calendar() -> None:
    """Holiday calendars: list, show, load a year's schedule (admin), export the package's knowledge."""


def _years(versions: dict[int, Any]) -> str:
    years = sorted(versions)
    if not years:
        return "none"
    return f"{years[0]}-{years[-1]}" if years == list(range(years[0], years[-1] + 1)) else ", ".join(map(str, years))


@calendar.command("list")
@store_option
@json_option
def calendar_list(store: str | None, as_json: bool) -> None:
    """The calendar versions the store recorded, the years each covers, and the active one."""
    rows = calendar_rows(open_engine(load_settings(store=store)).document_book(CALENDARS))
    if as_json:
        emit_json(rows)
        return
    table = Table("version", "active", "years covered", "recorded by", "digest")
    for row in rows:
        recorded = row["recorded"] or {}
        table.add_row(
            row["version"],
            "yes" if row["active"] else "",
            _years(dict.fromkeys(row["years"])),
            str(recorded.get("by", "")),
            (row["digest"] or "")[:19],
        )
    console.print(table)
    this_year = date.today().year
    active = next(row for row in rows if row["active"])
    for year in (this_year, this_year + 1):
        if year not in active["years"]:
            progress_console.print(
                f"[red]warning[/red]: the active calendar has no schedule for {year}: deadlines there "
                "count weekdays only (`fengkong calendar load FILE`)"
            )


@calendar.command("show")
@click.argument("version")
@click.option("--year", type=int, default=None, help="Only this year.")
@store_option
def calendar_show(version: str, year: int | None, store: str | None) -> None:
    """A recorded calendar version as a calendar file (TOML): its holidays and make-up working days."""
    engine = open_engine(load_settings(store=store))
    try:
        found = engine.documents().calendar_for(version)
    except LookupError as error:
        raise click.ClickException(str(error).strip("'\"")) from None
    years = {y: s for y, s in found.years.items() if year is None or y == year}
    click.echo(schedule_file(years, f"fengkong calendar {found.version}"), nl=False)


def next_version(book: DocumentBook) -> str:
    return f"CN-{len(book.entries) + 1}"


@calendar.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE")
@key_option
@store_option
def calendar_load(path: Path, key: str | None, store: str | None) -> None:
    """Record a calendar file's years (admin key): a new version, active for new decisions from now on.

    The new version is the active calendar with the file's years replacing
    the schedules it had for them. Decisions taken before keep the version
    they cite (replay uses it, never this one).
    """
    settings = load_settings(store=store, key=key)
    admin = acting_admin(settings)
    text = path.read_text(encoding="utf-8")
    try:
        _, years, source = parse_schedule_file(text)
    except CalendarError as error:
        raise click.ClickException(f"{path}: {error}") from None
    engine = open_engine(settings)
    book = engine.document_book(CALENDARS)
    with refusals():
        if book.active is None:
            book.load(seed_calendar_document(), admin, "seed: the calendar shipped with the engine")
        base = from_canonical(book.entries[book.active or ""].document.text)
        if all(base.years.get(year) == schedule for year, schedule in years.items()):
            raise click.ClickException(
                f"the active calendar {base.version} has these schedules already: nothing to load"
            )
        new = base.with_years(next_version(book), years)
        document = Document.of(CALENDARS, new.version, new.canonical())
        book.load(
            document,
            admin,
            source or path.name,
            based_on=base.version,
            source={"file": path.name, "digest": digest_of(text), "text": text},
        )
    save(engine, book)
    click.echo(f"calendar {new.version} recorded and active ({_years(dict(years))} from {path.name}), by {admin}")


@calendar.command("export")
@click.option(
    "--from-package",
    "from_package",
    is_flag=True,
    required=True,
    help="The schedules the installed chinesecalendar package knows.",
)
@click.option("--year", "years", type=int, multiple=True, help="Only these years (repeat the option).")
def calendar_export(from_package: bool, years: tuple[int, ...]) -> None:
    """Write a calendar file (TOML) from the installed chinesecalendar package, to check and then load."""
    from importlib.metadata import version  # noqa: PLC0415

    from chinese_calendar.constants import holidays, workdays  # noqa: PLC0415 - only this command reads the package

    from engine.business_days import YearSchedule  # noqa: PLC0415

    known = sorted({day.year for day in holidays})
    wanted = list(years) or known
    missing = [year for year in wanted if year not in known]
    if missing:
        raise click.ClickException(f"chinesecalendar {version('chinesecalendar')} has no schedule for {missing[0]}")
    schedules = {
        year: YearSchedule(
            frozenset(d for d in holidays if d.year == year), frozenset(d for d in workdays if d.year == year)
        )
        for year in wanted
    }
    click.echo(schedule_file(schedules, f"the chinesecalendar package, release {version('chinesecalendar')}"), nl=False)
