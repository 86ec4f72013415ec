"""`fengkong ingest`: contract events from JSONL into the store."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click

from adapters.cli.common import (
    console,
    default_dead_letter,
    emit_json,
    json_option,
    load_settings,
    open_engine,
    policy_option,
    shadow_option,
    store_option,
)
from adapters.cli.shadow import start_shadow
from adapters.files.jsonl import DeadLetterFile, dead_letter_record, read_lines
from adapters.runtime import faults
from engine.application import DEFAULT_BATCH
from engine.batch import Outcome


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
    engine = open_engine(settings, deciding=True)
    shadow_run = start_shadow(settings)
    pending: dict[int, bytes] = {}  # lines in flight, kept for the dead letters

    def remember() -> Iterator[bytes]:
        for index, line in enumerate(read_lines(source)):
            pending[index] = line
            yield line

    counts: Counter[str] = Counter()
    warnings = 0
    commands: Counter[str] = Counter()
    started = time.perf_counter()
    with DeadLetterFile(dead_letter or default_dead_letter(settings)) as letters:
        for result in engine.ingest(remember(), batch_size=settings.batch_size):
            line = pending.pop(result.index)
            counts[result.outcome] += 1
            commands.update(c.type for c in result.commands)
            warnings += len(result.warnings)
            if result.outcome is Outcome.REJECTED:
                letters.write(
                    dead_letter_record(
                        line,
                        result.reason or "rejected",
                        f"{source}:{result.index + 1}",
                        event_id=result.event_id,
                    )
                )
    elapsed = time.perf_counter() - started
    if shadow_run is not None:
        shadowed = shadow_run.catch_up()
        shadow_run.close()
        console.print(f"shadow {shadow_run.version}: {shadowed} facts decided beside the active policy")
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
