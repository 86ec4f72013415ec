"""The `fengkong` command line."""

from __future__ import annotations

import logging

import click

from adapters.cli.audit import audit
from adapters.cli.calendar import calendar
from adapters.cli.demo import demo
from adapters.cli.errors import FengkongGroup
from adapters.cli.ingest import ingest
from adapters.cli.inspect import account, commands, schema
from adapters.cli.kafka import KAFKA_COMMANDS
from adapters.cli.keys import keys
from adapters.cli.operators import OPERATOR_COMMANDS
from adapters.cli.policy import policy
from adapters.cli.privacy import privacy
from adapters.cli.projections import projections
from adapters.cli.query import export, query
from adapters.cli.reconcile import reconcile_command
from adapters.cli.score import score
from adapters.cli.serve import serve
from adapters.cli.shadow import shadow
from adapters.cli.status import status
from adapters.runtime.logging import configure_logging


@click.group(cls=FengkongGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """fengkong: event-sourced risk control for consumer credit lines."""
    configure_logging(logging.WARNING - 10 * verbose)


for command in (
    ingest,
    account,
    commands,
    schema,
    policy,
    audit,
    demo,
    projections,
    query,
    export,
    serve,
    reconcile_command,
    score,
    status,
    keys,
    *OPERATOR_COMMANDS,
    calendar,
    shadow,
    privacy,
    *KAFKA_COMMANDS,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="fengkong")
