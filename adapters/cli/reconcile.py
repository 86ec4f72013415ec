"""`fengkong reconcile`: what came in, against what the store recorded and the topics hold."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from adapters import bootstrap
from adapters.cli.common import (
    default_dead_letter,
    emit_json,
    json_option,
    kafka_logs_of_a_one_shot_command,
    load_settings,
    store_option,
)
from adapters.kafka.config import COMMANDS_TOPIC, DEAD_LETTER_TOPIC
from adapters.privacy.sealer import RecordedDigests
from adapters.reconcile import gather
from adapters.reconcile.compare import GAP_KINDS, Letter, Message, Report, reconcile
from adapters.store.urls import is_postgres, redact, sqlite_path

SHOWN = 10  # gaps listed per kind in the readable report (--json lists every one)


def parse_offsets(specs: tuple[str, ...], topics: tuple[str, ...]) -> dict[str, dict[int, int]]:
    """'P:O' (every topic) or 'TOPIC:P:O', comma-separated or repeated -> {topic: {partition: offset}}."""
    found: dict[str, dict[int, int]] = {topic: {} for topic in topics}
    for spec in specs:
        for item in filter(None, (part.strip() for part in spec.split(","))):
            parts = item.split(":")
            if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts[-2:]):
                raise click.BadParameter(f"{item!r}: expected PARTITION:OFFSET or TOPIC:PARTITION:OFFSET")
            partition, offset = int(parts[-2]), int(parts[-1])
            for topic in [parts[0]] if len(parts) == 3 else topics:
                if topic not in found:
                    raise click.BadParameter(f"{item!r}: topic {topic!r} is not one of the --topic options")
                found[topic][partition] = offset
    return found


@click.command("reconcile")
@click.option("--input", "inputs", multiple=True, metavar="FILE", help="A JSONL file that came in (as ingested).")
@click.option(
    "--dead-letter",
    "dead_letter_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Dead-letter file(s) of `fengkong ingest` (default: the one beside the store, if any).",
)
@click.option("--topic", "topics", multiple=True, metavar="TOPIC", help="A topic whose records came in.")
@click.option("--from", "starts", multiple=True, metavar="[TOPIC:]P:O", help="First offset per partition.")
@click.option("--to", "stops", multiple=True, metavar="[TOPIC:]P:O", help="End offset per partition (exclusive).")
@click.option(
    "--dead-letter-topic", default=None, help=f"Dead letters on Kafka (default with --topic: {DEAD_LETTER_TOPIC})."
)
@click.option("--commands-topic", default=None, help=f"Commands on Kafka (default with --topic: {COMMANDS_TOPIC}).")
@click.option("--no-commands", is_flag=True, help="Do not check the commands topic.")
@click.option("--no-projections", is_flag=True, help="Do not check the read models.")
@click.option("--strict-once", is_flag=True, help="A command on the commands topic more than once is a gap.")
@click.option("--partial", is_flag=True, help="The inputs are only part of what the store holds (implied by --from).")
@click.option(
    "--bootstrap-servers",
    "explicit_servers",
    default=None,
    metavar="HOST:PORT[,...]",
    help="Kafka brokers (env KAFKA_BOOTSTRAP_SERVERS; default 127.0.0.1:9092).",
)
@store_option
@json_option
def reconcile_command(
    inputs: tuple[str, ...],
    dead_letter_files: tuple[Path, ...],
    topics: tuple[str, ...],
    starts: tuple[str, ...],
    stops: tuple[str, ...],
    dead_letter_topic: str | None,
    commands_topic: str | None,
    no_commands: bool,
    no_projections: bool,
    strict_once: bool,
    partial: bool,
    explicit_servers: str | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Check that nothing was lost and nothing applied twice; exit 1 on any gap.

    Every message that came in (JSONL lines with --input, topic records with
    --topic) must be recorded in the store with the same payload, or be in the
    dead letters; no event may be on its stream twice; every recorded command
    must be on the commands topic (repeats are counted, and are a gap only
    with --strict-once); every read model must be at the store's head and
    agree with the commands.
    """
    if not inputs and not topics:
        raise click.UsageError("give what came in: --input FILE and/or --topic TOPIC")
    settings = load_settings(store=store, kafka_bootstrap_servers=explicit_servers)
    url = settings.store
    if not is_postgres(url) and not sqlite_path(url).exists():
        raise click.ClickException(f"no store at {url}")
    servers = settings.kafka_bootstrap_servers
    kafka_logs_of_a_one_shot_command()
    start_at = parse_offsets(starts, topics)
    stop_at = parse_offsets(stops, topics)

    def messages() -> Iterator[Message]:
        for path in inputs:
            yield from gather.file_messages(path)
        for topic in topics:
            yield from gather.topic_messages(servers, topic, start_at[topic] or None, stop_at[topic] or None)

    letters: list[Letter] | None = None
    files = list(dead_letter_files)
    if not files and inputs and default_dead_letter(settings).exists():
        files = [default_dead_letter(settings)]
    if files or topics:
        letters = [letter for path in files for letter in gather.file_letters(path)]
        if topics:
            letters += gather.topic_letters(servers, dead_letter_topic or DEAD_LETTER_TOPIC)
    commands_on = commands_topic or (COMMANDS_TOPIC if topics else None)
    published = None if no_commands or commands_on is None else gather.published_commands(servers, commands_on)

    log = bootstrap.open_log(settings)
    engine_tables = bootstrap.open_engine_tables(settings)
    db = bootstrap.open_tables(settings)
    keys = bootstrap.open_key_ring(settings)
    records = bootstrap.privacy_records(settings)
    try:
        report = reconcile(
            messages(),
            letters,
            gather.index_rows(engine_tables),
            gather.stored_facts(log),
            gather.stored_commands(log),
            head=log.head(),
            positions=engine_tables.positions(),
            published=published,
            read_models=None if no_projections else gather.read_models(db),
            complete=not (partial or starts),
            strict_once=strict_once,
            recorded_digest=RecordedDigests(keys, records),
        )
    finally:
        keys.close()
        records.close()
        db.close()
        engine_tables.db.close()
        log.close()
    if no_projections:
        report.notes.append("read models not checked (--no-projections)")
    if as_json:
        emit_json({"store": redact(url), **report.to_dict()})
    else:
        click.echo(render(report, redact(url)))
    if not report.ok:
        raise SystemExit(1)


def render(report: Report, store: str) -> str:
    """The readable report: the figures, each kind of gap with its first examples, the notes."""
    c = report.counts
    lines = [
        f"reconcile {store}",
        f"  came in      {c.get('inputs', 0)} messages: {c.get('valid', 0)} valid "
        f"({c.get('distinct_event_ids', 0)} distinct event ids, {c.get('repeats', 0)} repeats), "
        f"{c.get('invalid', 0)} invalid",
        f"  outcome      {c.get('recorded', 0)} recorded, {c.get('refused', 0)} refused by the engine; "
        f"{c.get('dead_letters', 0)} dead letters ({c.get('dead_letters_repeated', 0)} repeated)",
        f"  store        {c.get('indexed', 0)} indexed events, {c.get('facts', 0)} facts on "
        f"{c.get('streams', 0)} accounts, {c.get('commands', 0)} commands, head {c.get('head', 0)}",
    ]
    if "command_deliveries" in c:
        lines.append(
            f"  commands     {c['commands_published']} of {c.get('commands', 0)} on the topic, "
            f"{c['command_deliveries']} deliveries "
            f"({c['command_repeats']} repeats of {c['commands_repeated']} commands)"
        )
    grouped = report.by_kind()
    if not grouped:
        lines.append("OK: nothing lost, nothing applied twice, no gap.")
    for kind, gaps in grouped.items():
        lines.append(f"GAP {kind}: {len(gaps)} - {GAP_KINDS[kind]}")
        lines += [f"    {gap.ref}: {gap.detail}" for gap in gaps[:SHOWN]]
        if len(gaps) > SHOWN:
            lines.append(f"    ... {len(gaps) - SHOWN} more (--json lists all)")
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines)
