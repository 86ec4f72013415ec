"""decisions: every decision the policy took, with its rule, facts and command.

Risk officers filter these by rule or policy version; each row names the
inbound event that triggered it, so a command can be traced to its cause.
"""

from __future__ import annotations

from projections.base import Column, DecisionRecorded, Projection, Recorded, Table, Tables, utc
from projections.base import ColumnType as T

DECISIONS = Table(
    "decisions",
    "Every decision with its rule, policy version, the facts it used, its trigger and its command.",
    (
        Column("position", T.INTEGER, "notification id of the stored fact the decision was recorded with"),
        Column("seq", T.INTEGER, "its place among that fact's decisions (1..n): with position, the store's order"),
        Column("account_id", T.TEXT, "the account decided on"),
        Column("rule", T.TEXT, "rule id that fired (see docs/policy.md)"),
        Column("policy_version", T.TEXT, "policy the decision was taken under"),
        Column("cause_event_id", T.TEXT, "event_id of the inbound event that triggered it"),
        Column("occurred_at", T.TIMESTAMP, "event time of that inbound event (UTC)"),
        Column("facts", T.JSON, "the facts the rule saw, as recorded"),
        Column("changes", T.JSON, "the account controls the decision set (lock, limit, score, review, ...)"),
        Column("command_type", T.TEXT, "type of the emitted command, if any", nullable=True),
        Column("command_id", T.TEXT, "stable id of the emitted command, if any", nullable=True),
        Column("command", T.JSON, "the emitted command as sent downstream, if any", nullable=True),
    ),
    key=("position", "seq"),
    indexes=(("account_id", "position", "seq"), ("rule",), ("cause_event_id",)),
    append_only=True,
)


class Decisions(Projection):
    name = "decisions"
    version = 2
    tables = (DECISIONS,)
    doc = "Every decision with rule, policy version, facts, trigger and command."
    weight = 10
    reads = frozenset({DecisionRecorded})

    def apply(self, event: Recorded, tables: Tables) -> None:
        if not isinstance(event, DecisionRecorded):
            return
        decision, command = event.decision, event.decision.command
        tables.put(
            DECISIONS,
            {
                "position": event.position,
                "seq": event.seq,
                "account_id": event.account_id,
                "rule": decision.rule,
                "policy_version": decision.policy_version,
                "cause_event_id": decision.cause_event_id,
                "occurred_at": utc(event.occurred_at),
                "facts": decision.facts,
                "changes": decision.changes,
                "command_type": None if command is None else str(command["type"]),
                "command_id": None if command is None else str(command["command_id"]),
                "command": command,
            },
        )
