"""Creating the topics the engine uses, with the partition counts the design needs."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.kafka.client import KafkaAdminClient
from adapters.kafka.config import CLOCK_TOPIC, COMMANDS_TOPIC, DEAD_LETTER_TOPIC, EVENTS_TOPIC


@dataclass(frozen=True)
class TopicPlan:
    events: str = EVENTS_TOPIC
    dead_letters: str = DEAD_LETTER_TOPIC
    clock: str = CLOCK_TOPIC
    commands: str = COMMANDS_TOPIC
    partitions: int = 4
    replication_factor: int = 1

    def specs(self) -> dict[str, dict[str, object]]:
        """Name -> create_topics spec. The clock has ONE partition so business dates stay in order."""
        counts = {self.events: self.partitions, self.dead_letters: 1, self.clock: 1, self.commands: self.partitions}
        return {
            name: {"num_partitions": count, "replication_factor": self.replication_factor}
            for name, count in counts.items()
        }


def ensure_topics(bootstrap_servers: str, plan: TopicPlan, timeout_ms: int = 30_000) -> dict[str, str]:
    """Create the missing topics; name -> 'created' or 'exists (N partitions)'."""
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="fengkong-topics",
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
    )
    try:
        existing = {t["name"]: len(t["partitions"]) for t in admin.describe_topics() if not t.get("error_code")}
        missing = {name: spec for name, spec in plan.specs().items() if name not in existing}
        if missing:
            admin.create_topics(missing, timeout_ms=timeout_ms, wait_for_metadata=True)
        return {
            name: "created" if name in missing else f"exists ({existing[name]} partitions)" for name in plan.specs()
        }
    finally:
        admin.close()
