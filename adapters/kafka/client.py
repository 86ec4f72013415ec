"""kafka-python, imported once with its import-time noise silenced.

kafka-python 3.0 reads its protocol schemas with importlib.resources APIs that
Python 3.11 deprecates: hundreds of DeprecationWarnings otherwise.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", r"(read_text|open_text) is deprecated", DeprecationWarning)
    from kafka import (
        ConsumerRebalanceListener,
        KafkaAdminClient,
        KafkaConsumer,
        KafkaProducer,
        OffsetAndMetadata,
        TopicPartition,
    )
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
    from kafka.partitioner.default import murmur2

__all__ = [
    "ConsumerRebalanceListener",
    "CooperativeStickyAssignor",
    "KafkaAdminClient",
    "KafkaConnectionError",
    "KafkaConsumer",
    "KafkaError",
    "KafkaProducer",
    "KafkaTimeoutError",
    "OffsetAndMetadata",
    "TopicAlreadyExistsError",
    "TopicPartition",
    "murmur2",
]
