"""Kafka adapters: the inbound worker, the clock relay, the command relay, topic set-up.

The engine knows nothing of Kafka: a worker hands it one partition's batch
with the next offset (saved in the same transaction), the partition's account
scope for DayClosed fan-out, and a hook that dead-letters rejects before the
transaction commits. See docs/kafka.md for the design and its guarantees.
"""
