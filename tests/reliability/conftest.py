"""The Kafka tests' fixtures (a fresh set of topics per test, a fresh consumer group) for these tests too."""

from __future__ import annotations

from tests.kafka.conftest import group, topics

__all__ = ["group", "topics"]
