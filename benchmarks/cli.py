"""`python -m benchmarks`: the benchmark, printed as a table, as JSON, or into docs/benchmarks.md."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click
from rich.console import Console

from adapters.cli.common import console, emit_json, json_option
from benchmarks.context import Options
from benchmarks.report import markdown, print_report
from benchmarks.rows import ROW_NAMES
from benchmarks.runner import Bench, clean
from engine.application import DEFAULT_BATCH


def _command_line() -> str:
    return shlex.join(["python", "-m", "benchmarks", *sys.argv[1:]])


@click.command()
@click.option("--events", default=1_000_000, show_default=True, help="Events in the synthetic workload.")
@click.option("--accounts", default=100_000, show_default=True, help="Accounts in the synthetic portfolio.")
@click.option("--seed", default=7, show_default=True, help="Random seed of the workload.")
@click.option("--batch-size", default=DEFAULT_BATCH, show_default=True, help="Engine: events per transaction.")
@click.option(
    "--cache-size",
    default=100_000,
    show_default=True,
    help="Engine: accounts kept in memory (the engine's own default is 20,000).",
)
@click.option(
    "--naive-seconds",
    default=120.0,
    show_default=True,
    help="Time budget of each naive per-event row.",
)
@click.option(
    "--naive-sample",
    default=50,
    show_default=True,
    help="The naive rows take the events of one account in this many (and every DayClosed).",
)
@click.option(
    "--postgres",
    default=None,
    metavar="URL|auto",
    help="PostgreSQL server for rows 2 (a fresh database per row), or 'auto' for a throwaway server.",
)
@click.option(
    "--kafka",
    default=None,
    metavar="HOST:PORT|auto",
    help="Kafka broker for rows 3-5 (its own topics per run, deleted after), or 'auto' for a throwaway broker.",
)
@click.option(
    "--kafka-events",
    default=200_000,
    show_default=True,
    help="Events in the Kafka rows' sample: the same generator, accounts scaled to keep the workload's mix.",
)
@click.option(
    "--latency-rate", default=2_000.0, show_default=True, help="Latency row: offered load, events per second."
)
@click.option(
    "--latency-high-rate",
    default=5_000.0,
    show_default=True,
    help="Row latency.high: the higher offered load, events per second.",
)
@click.option("--latency-seconds", default=60.0, show_default=True, help="Latency row: how long the load is offered.")
@click.option(
    "--latency-warmup",
    default=10.0,
    show_default=True,
    help="Latency row: commands caused by events sent in the first seconds are not counted.",
)
@click.option(
    "--small-events",
    type=int,
    default=None,
    help="The flat rows' smaller workload (same seed): events [default: a tenth of --events].",
)
@click.option("--small-accounts", type=int, default=None, help="Its accounts [default: a tenth of --accounts].")
@click.option(
    "--split-events",
    default=200_000,
    show_default=True,
    help="Events in the scale-out rows' sample (accounts scaled to keep the mix).",
)
@click.option(
    "--peer-python",
    default=None,
    metavar="PATH",
    help="Interpreter with quixstreams for the peer row (default .venv-peer/bin/python, which make bench creates).",
)
@click.option(
    "--row",
    "rows",
    multiple=True,
    type=click.Choice(ROW_NAMES),
    help="Run only these rows (repeatable; default all).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".bench"),
    show_default=True,
    help="Where the workload file and the rows' stores go.",
)
@click.option("--keep", is_flag=True, help="Keep the stores the rows wrote.")
@click.option(
    "--write-docs",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the report as markdown (docs/benchmarks.md).",
)
@json_option
def bench(
    events: int,
    accounts: int,
    seed: int,
    batch_size: int,
    cache_size: int,
    naive_seconds: float,
    naive_sample: int,
    postgres: str | None,
    kafka: str | None,
    kafka_events: int,
    latency_rate: float,
    latency_high_rate: float,
    latency_seconds: float,
    latency_warmup: float,
    small_events: int | None,
    small_accounts: int | None,
    split_events: int,
    peer_python: str | None,
    rows: tuple[str, ...],
    workdir: Path,
    keep: bool,
    write_docs: Path | None,
    as_json: bool,
) -> None:
    """Measure ingest, Kafka end to end, latency, replay and memory against baselines on a seeded workload.

    Every row runs in a fresh process on the same generated events and reports
    events per second and its peak RSS; rows whose subject has not landed say
    why instead of printing a figure.
    """
    options = Options(
        events=events,
        accounts=accounts,
        seed=seed,
        batch_size=batch_size,
        cache_size=cache_size,
        naive_seconds=naive_seconds,
        naive_sample=naive_sample,
        postgres=postgres,
        kafka=kafka,
        kafka_events=kafka_events,
        latency_rate=latency_rate,
        latency_high_rate=latency_high_rate,
        latency_seconds=latency_seconds,
        latency_warmup=latency_warmup,
        small_events=small_events,
        small_accounts=small_accounts,
        split_events=split_events,
        peer_python=peer_python,
        workdir=workdir,
        rows=rows,
        command=_command_line(),
    )
    report = Bench(options, progress=lambda text: console.log(text) if not as_json else None).run()
    if not keep:
        clean(workdir)
    if write_docs:
        write_docs.parent.mkdir(parents=True, exist_ok=True)
        write_docs.write_text(markdown(report), encoding="utf-8")
    if as_json:
        emit_json(report)
    else:
        print_report(report, Console(width=max(120, Console().width)))
