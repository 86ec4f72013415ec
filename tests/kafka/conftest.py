"""Fixtures for the Kafka tests: a fresh set of the engine's topics per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tests.kafka.support import Topics

PARTITIONS = 3


@pytest.fixture
def topics(new_topic: Callable[..., str]) -> Topics:
    """billing.events (3 partitions), its dead letters, the clock (1 partition) and risk.commands."""
    return Topics(
        events=new_topic(PARTITIONS, prefix="billing.events"),
        dead_letters=new_topic(1, prefix="billing.events.dlq"),
        clock=new_topic(1, prefix="billing.clock"),
        commands=new_topic(PARTITIONS, prefix="risk.commands"),
        partitions=PARTITIONS,
    )


@pytest.fixture
def group() -> str:
    return f"fengkong-test-{uuid.uuid4().hex[:8]}"
