"""`fengkong ingest`: contract events from JSONL into the store."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from adapters.cli.common import (
    check_input,
    check_output,
    default_dead_letter,
    emit_json,
    json_option,
    load_settings,
    open_engine,
    policy_option,
    progress_console,
    shadow_option,
    store_option,
    writable_store,
)
from adapters.cli.shadow import start_shadow
from adapters.files.jsonl import DeadLetterFile, Line, Oversized, dead_letter_record, read_lines
from adapters.runtime import faults
from adapters.store.backends import overlaps_commits
from engine.application import DEFAULT_BATCH
from engine.batch import Outcome
from engine.collector import cyclic_gc_paused
from engine.overlap import process_batches
from events.inbound import InvalidEvent, ParsedEvent, parse_or_refusal


def _parsed(line: Line) -> ParsedEvent | InvalidEvent:
    """A line parsed against the contract (an oversized one refused unread)."""
    return line.refusal if isinstance(line, Oversized) else parse_or_refusal(line)


def _batches(source: str, size: int) -> Iterator[tuple[list[Line], list[ParsedEvent | InvalidEvent]]]:
    """The source's lines `size` at a time, each batch with its lines parsed."""
    lines = read_lines(source)
    while batch := list(itertools.islice(lines, size)):
        with cyclic_gc_paused():  # the parse's objects are the batch's, freed after it
            parsed = [_parsed(line) for line in batch]
        yield batch, parsed


@contextmanager
def progress(source: str, as_json: bool) -> Iterator[Callable[[int], None]]:
    """A bar with events/s on stderr when it is a terminal (and not --json); nothing otherwise."""
    columns = (
        TextColumn(f"ingesting {source}"),
        SpinnerColumn(),
        TextColumn("{task.completed:,.0f} events"),
        TextColumn("{task.fields[rate]} events/s"),
        TimeElapsedColumn(),
    )
    shown = progress_console.is_terminal and not as_json
    with Progress(*columns, console=progress_console, disable=not shown, transient=False) as bar:
        task = bar.add_task("ingest", total=None, rate="-")
        started = time.perf_counter()

        def advance(count: int) -> None:
            done = bar.tasks[0].completed + count
            elapsed = time.perf_counter() - started
            bar.update(task, completed=done, rate=f"{done / elapsed:,.0f}" if elapsed else "-")

        yield advance


@click.command()
@click.argument("source", metavar="FILE|-")
@store_option
@policy_option
@shadow_option
@click.option(
    "--dead-letter",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where rejected lines go, with their reasons (default: beside the store).",
)
@click.option(
    "--batch-size", default=None, type=click.IntRange(1), help=f"Events saved per transaction ({DEFAULT_BATCH})."
)
@json_option
def ingest(
    source: str,
    store: str | None,
    policy: str | None,
    shadow: str | None,
    dead_letter: Path | None,
    batch_size: int | None,
    as_json: bool,
) -> None:
    """Ingest contract events from a JSONL file (or - for stdin).

    Duplicates (same event_id, same payload) change nothing; invalid or
    inapplicable lines go to the dead-letter file with their reason and the
    run goes on. Exit status is 0 unless the store itself fails.
    """
    faults.arm_from_env()
    settings = load_settings(store=store, policy=policy, shadow=shadow, batch_size=batch_size)
    check_input(source)
    letters_path = dead_letter or default_dead_letter(settings)
    check_output(letters_path)
    writable_store(settings)
    engine = open_engine(settings, deciding=True)
    shadow_run = start_shadow(settings)
    counts: Counter[str] = Counter()
    warnings = 0
    commands: Counter[str] = Counter()
    started = time.perf_counter()
    with DeadLetterFile(letters_path) as letters, progress(source, as_json) as advance:
        offset = 0
        overlap = overlaps_commits(settings.store)
        batches = process_batches(engine, _batches(source, settings.batch_size), overlap=overlap)
        for batch, results in batches:
            for result in results:
                counts[result.outcome] += 1
                commands.update(c.type for c in result.commands)
                warnings += len(result.warnings)
                if result.outcome is Outcome.REJECTED:
                    letters.write(
                        dead_letter_record(
                            batch[result.index],
                            result.reason or "rejected",
                            f"{source}:{offset + result.index + 1}",
                            result.sealed,
                            event_id=result.event_id,
                        )
                    )
            offset += len(batch)
            advance(len(batch))
    elapsed = time.perf_counter() - started
    if shadow_run is not None:
        shadowed = shadow_run.catch_up()
        shadow_run.close()
        progress_console.print(f"shadow {shadow_run.version}: {shadowed} facts decided beside the active policy")
    summary = {
        "accepted": counts[Outcome.ACCEPTED],
        "duplicates": counts[Outcome.DUPLICATE],
        "rejected": counts[Outcome.REJECTED],
        "commands": sum(commands.values()),
        "commands_by_type": dict(sorted(commands.items())),
        "warnings": warnings,
        "dead_letter": str(letters.path) if letters.count else None,
        "seconds": round(elapsed, 3),
    }
    if as_json:
        emit_json(summary)
    else:
        click.echo(
            f"accepted {summary['accepted']}, duplicates {summary['duplicates']}, "
            f"rejected {summary['rejected']}, commands {summary['commands']} in {elapsed:.2f}s"
        )
        if letters.count:
            click.echo(f"rejected lines and reasons: {letters.path}")
        if warnings:
            click.echo(f"{warnings} decisions counted business days on weekdays only (see the warnings above)")
