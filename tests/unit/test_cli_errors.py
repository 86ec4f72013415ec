"""Which errors from deep down the command line reads as an operator's mistake, and as which."""

from __future__ import annotations

import psycopg

from adapters.cli.errors import Exit, translate


def test_a_server_that_cannot_be_reached_is_a_mistake_of_one_line() -> None:
    found = translate(psycopg.OperationalError("connection refused"))
    assert found is not None and found.kind is Exit.STORE_UNREACHABLE


def test_a_rolled_back_transaction_is_not_read_as_an_unreachable_server() -> None:
    """A deadlock is an OperationalError to psycopg, yet the server answered: the operator's host, port and login
    are fine, so the command shows the defect's traceback instead of sending them to check those."""
    assert translate(psycopg.errors.DeadlockDetected("deadlock detected")) is None
    assert translate(psycopg.errors.SerializationFailure("could not serialize access")) is None
