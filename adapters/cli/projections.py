"""`fengkong projections`: catch up, follow, rebuild and inspect the read models."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TypedDict

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from adapters import bootstrap
from adapters.audit.parallel import default_jobs
from adapters.cli.common import F, console, emit_json, json_option, load_settings, progress_console, store_option
from adapters.cli.errors import Exit, Mistake
from adapters.rebuild.parallel import RebuildProcessDied
from adapters.rebuild.parallel import catch_up as parallel_catch_up
from adapters.rebuild.parallel import rebuild as parallel_rebuild
from adapters.runtime import faults
from adapters.runtime.signals import stop_on_signals
from adapters.settings import Settings
from projections.registry import BY_NAME
from projections.runner import PAGE, ProjectionRunner, names_or_all


def page_option(command: F) -> F:
    return click.option(
        "--page", default=None, type=click.IntRange(1), help=f"Stored events per transaction ({PAGE})."
    )(command)


def open_runner(store: str | None, page: int | None = None) -> ProjectionRunner:
    faults.arm_from_env()
    return bootstrap.projection_runner(load_settings(store=store, projection_page=page))


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A progress callback `(position, head)` drawing a bar on stderr."""
    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=progress_console, disable=not enabled) as progress:
        task = progress.add_task(label, total=None)

        def update(position: int, head: int) -> None:
            progress.update(task, completed=position, total=max(head, 1))

        yield update


def jobs_option(command: F) -> F:
    return click.option(
        "--jobs",
        default=default_jobs(),
        show_default=True,
        type=click.IntRange(1),
        help="Processes at most: the read models are split into groups of about equal cost, one group per process, "
        "and into no more groups than make the heaviest group lighter.",
    )(command)


def _process_died() -> Mistake:
    return Mistake(
        Exit.FAILED,
        "a rebuild process died: its read models stay at the position they last committed; "
        "`fengkong projections catch-up` carries them on",
    )


class CatchUpFigures(TypedDict):
    """What `catch-up --json` prints (and the demo's summary holds) of a catch-up."""

    events: int
    seconds: float
    events_per_second: int | None
    position: int
    loaded: list[str]


def catch_up_with_progress(settings: Settings, jobs: int, label: str, show: bool) -> CatchUpFigures:
    """Catch every read model up (those never run loaded as a rebuild loads them, on `jobs` processes)."""
    faults.arm_from_env()
    started = time.perf_counter()
    try:
        with progress_bar(label, show) as update:
            done = parallel_catch_up(settings, jobs, update)
    except RebuildProcessDied:
        raise _process_died() from None
    elapsed = time.perf_counter() - started
    return {
        "events": done.read,
        "seconds": round(elapsed, 3),
        "events_per_second": round(done.read / elapsed) if elapsed and done.read else None,
        "position": done.position,
        "loaded": list(done.loaded),
    }


@click.group()
def projections() -> None:
    """Read models: catch up with the store, follow it live, rebuild, show status."""


@projections.command("status")
@store_option
@json_option
def status(store: str | None, as_json: bool) -> None:
    """Each projection's position, the store's head and the lag behind it."""
    runner = open_runner(store)
    try:
        rows = runner.status()
    finally:
        runner.close()
    if as_json:
        emit_json([asdict(row) for row in rows])
        return
    table = Table("projection", "version", "position", "head", "lag (events)", "lag (s)", "updated")
    for row in rows:
        table.add_row(
            row.name,
            str(row.version),
            str(row.position),
            str(row.head),
            str(row.lag_events),
            "-" if row.lag_seconds is None else f"{row.lag_seconds:.1f}",
            row.updated_at or "-",
        )
    console.print(table)


@projections.command("catch-up")
@jobs_option
@page_option
@store_option
@json_option
def catch_up(jobs: int, page: int | None, store: str | None, as_json: bool) -> None:
    """Apply everything stored since each projection's position, then stop.

    Read models that never ran are loaded as `rebuild` loads them (in memory, on --jobs processes).
    """
    settings = load_settings(store=store, projection_page=page)
    figures = catch_up_with_progress(settings, jobs, "catching up", not as_json)
    if as_json:
        emit_json(figures)
    else:
        applied = f"{figures['events']} events applied in {figures['seconds']}s; position {figures['position']}"
        loaded = f"; loaded in memory: {', '.join(figures['loaded'])}" if figures["loaded"] else ""
        click.echo(applied + loaded)


@projections.command("rebuild")
@click.argument("names", nargs=-1, metavar=f"[{'|'.join(BY_NAME)}]...")
@jobs_option
@page_option
@store_option
@json_option
def rebuild(names: tuple[str, ...], jobs: int, page: int | None, store: str | None, as_json: bool) -> None:
    """Drop the named read models (all by default) and rebuild them from the store."""
    try:
        chosen = names_or_all(names)
    except KeyError as error:
        raise click.UsageError(str(error.args[0])) from None
    faults.arm_from_env()
    settings = load_settings(store=store, projection_page=page)
    started = time.perf_counter()
    try:
        with progress_bar(f"rebuilding {', '.join(names) or 'all'}", not as_json) as update:
            rebuilt = parallel_rebuild(settings, chosen, jobs, update)
    except RebuildProcessDied:
        raise _process_died() from None
    elapsed = time.perf_counter() - started
    applied = rebuilt.notifications
    figures = {
        "projections": chosen,
        "jobs": rebuilt.jobs,
        "events": applied,
        "seconds": round(elapsed, 3),
        "events_per_second": round(applied / elapsed) if elapsed and applied else None,
    }
    if as_json:
        emit_json(figures)
    else:
        processes = f"{rebuilt.jobs} process" + ("es" if rebuilt.jobs > 1 else "")
        click.echo(f"rebuilt {', '.join(chosen)}: {applied} events in {elapsed:.2f}s on {processes}")


@projections.command("follow")
@click.option("--poll", default=0.2, show_default=True, help="Seconds between polls of the store when idle.")
@store_option
def follow(poll: float, store: str | None) -> None:
    """Catch up, then apply new events as the engine stores them (until interrupted)."""
    stop = stop_on_signals(signal.SIGTERM)  # Ctrl-C stays KeyboardInterrupt
    try:
        catch_up_with_progress(load_settings(store=store), default_jobs(), "catching up", True)
    except KeyboardInterrupt:
        return
    runner = open_runner(store)
    try:
        click.echo("following the store; Ctrl-C to stop", err=True)
        runner.follow(stop, poll)
    except KeyboardInterrupt:
        pass
    finally:
        runner.close()
