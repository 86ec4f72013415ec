"""A long-running process makes its clients `patiently`: it waits out a broker or a store that is not up yet."""

from __future__ import annotations

import logging
import threading

import pytest
from eventsourcing.persistence import OperationalError

from adapters.kafka.client import KafkaError
from adapters.kafka.retry import patiently

log = logging.getLogger("test.patiently")


def test_each_failed_try_is_one_line_naming_what_failed_then_the_clients_are_made(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures: list[BaseException] = [KafkaError("no broker answered"), OperationalError("unable to open database")]

    def make() -> str:
        if failures:
            raise failures.pop(0)
        return "clients"

    with caplog.at_level(logging.WARNING, logger=log.name):
        made = patiently(make, threading.Event(), log)
    assert made == "clients"
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("connecting to Kafka failed (KafkaError: ") and "no broker answered" in lines[0]
    assert lines[1].startswith("opening the store failed (OperationalError: unable to open database); retrying in ")
    assert all(record.exc_info is None for record in caplog.records)


def test_a_defect_is_not_waited_out() -> None:
    def make() -> str:
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):
        patiently(make, threading.Event(), log)


def test_a_stop_asked_while_waiting_ends_the_wait_with_nothing_made() -> None:
    stop = threading.Event()
    tries: list[int] = []

    def make() -> str:
        tries.append(1)
        if len(tries) > 1:
            return "clients"  # a second try would succeed: only the stop can make the answer None
        stop.set()  # SIGTERM while the first try fails
        raise KafkaError("no broker answered")

    assert patiently(make, stop, log) is None
    assert len(tries) == 1
