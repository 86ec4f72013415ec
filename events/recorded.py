"""The stored shape of what the engine records, versioned, for the engine and every reader of the store.

One stored event per recorded fact, on the stream of the account it applied to
(the stream id is the `account_id`; the platform clock's stream is `$clock`),
carrying the decisions the fact caused. Its state is one JSON object:

    {"v": 1, "at": 1764600000000, "policy": "default-v1", "fact": {...},
     "balances": [...], "decisions": [{"rule": ..., "facts": {...}, "changes": {...}, "command": {...}}]}

- `v`: the format; a reader upcasts older formats step by step (`UPCASTERS`) and sees only `FORMAT`;
- `at`: when the engine recorded it (milliseconds since the epoch, wall clock): for lag figures only,
  never read by a decision;
- `policy`: the policy version the fact was decided under (absent on the clock's stream);
- `fact`: the inbound event's canonical JSON, embedded as pydantic wrote it on the way in;
- `balances`: the account's money position right after the fact, in the order of `BALANCE_FIELDS`;
- `decisions`: each decision as recorded, without what the envelope already says: its policy version,
  cause event id and event time, and its command's account id, policy version, rule, cause and time
  (`expand_decision` gives back the full decision and command, byte for byte what the engine emitted;
  `changes` is left out when empty, `command` when there is none).

Fields added since format 1 was first written (optional: a state without them reads as before, and
format-1 rows never change meaning):
- a decision's `brake`: the emergency brake's verdict on an automatic lock (`count`, `active`, `bound`,
  `verdict`: `emitted` or `held`); a lock recorded without one was emitted before the brake existed;
- a decision's `command` stored whole (it holds `cause_event_id`): a released hold emits the commands the
  held lock would have had, whose envelope (rule, cause, time) is the lock's, not the release's;
- stream `$brake` (topic `brake`): one stored event per batch the brake judged, written first in its
  transaction: `active` (the accounts opened and not closed before the batch), `judged`, `held`;
- topic `clock.action` on the clock's stream: an admin's correction of the platform clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

FORMAT = 1
FACT_TOPIC = "fact"
"""The topic of every stored event of an account: one recorded fact with its decisions."""
DAY_TOPIC = "day"
"""The topic of the platform clock's stored events: one closed business date."""
CLOCK_STREAM = "$clock"
"""The clock's stream id: no account id can take it (account ids are `[A-Za-z0-9_-]`)."""
CLOCK_ACTION_TOPIC = "clock.action"
"""The topic of an operator's correction of the platform clock, on the clock's stream."""
BRAKE_STREAM = "$brake"
"""The emergency brake's stream: one stored event per batch it judged (topic BRAKE_TOPIC)."""
BRAKE_TOPIC = "brake"
SYSTEM_STREAM_PREFIX = "$"
"""Streams that are not accounts start so (account ids cannot)."""
SYSTEM_STREAMS = "$%"
"""A SQL LIKE pattern for the streams that are not accounts: the clock's and the recorded documents'
(events.documents), the forgets', all named with a `$`."""
FORGET_TOPIC = "privacy.forgotten"
"""The topic of an admin's forget: one stored event on stream `$forget-<key id>` (`encode_forget`)."""
BALANCE_FIELDS = ("overdue_outstanding", "outstanding", "credit", "days_past_due", "active_plan_id", "overdue_bills")
_ENVELOPE_FIELDS = ("account_id", "policy_version", "rule", "cause_event_id", "occurred_at")

State = dict[str, Any]
UPCASTERS: dict[int, Callable[[State], State]] = {}
"""Format n -> the function turning a decoded state of format n into format n + 1 (none yet: format 1 is the first)."""


class FormatError(ValueError):
    """A stored state of a format this code cannot read (newer than FORMAT, or without an upcaster)."""


def encode_fact(
    canonical_fact: str,
    policy_version: str,
    balances: dict[str, Any],
    decisions: list[dict[str, Any]],
    recorded_at_ms: int | None = None,
) -> bytes:
    """The stored state of one fact recorded on an account (`decisions` compact, see `compact_decision`)."""
    return orjson.dumps(fact_state(canonical_fact, policy_version, balances, decisions, recorded_at_ms))


def stored_balances(balances: dict[str, Any]) -> list[Any]:
    """A ledger's balances as a state holds them: their values in the order of `BALANCE_FIELDS`."""
    return [balances[name] for name in BALANCE_FIELDS]


def fact_state(
    canonical_fact: str,
    policy_version: str,
    balances: dict[str, Any],
    decisions: list[dict[str, Any]],
    recorded_at_ms: int | None = None,
) -> State:
    """The state `encode_fact` encodes, for a caller that completes it before encoding (the brake's verdicts)."""
    state: State = {
        "v": FORMAT,
        "at": _now_ms() if recorded_at_ms is None else recorded_at_ms,
        "policy": policy_version,
        "fact": orjson.Fragment(canonical_fact),
        "balances": stored_balances(balances),
    }
    if decisions:
        state["decisions"] = decisions
    return state


def encode_brake(active: int, judged: int, held: int, recorded_at_ms: int | None = None) -> bytes:
    """The stored state of one batch the brake judged: the active accounts it judged against."""
    at = _now_ms() if recorded_at_ms is None else recorded_at_ms
    return orjson.dumps({"v": FORMAT, "at": at, "active": active, "judged": judged, "held": held})


def encode_day(canonical_fact: str, recorded_at_ms: int | None = None) -> bytes:
    """The stored state of a business date closed on the platform clock."""
    at = _now_ms() if recorded_at_ms is None else recorded_at_ms
    return orjson.dumps({"v": FORMAT, "at": at, "fact": orjson.Fragment(canonical_fact)})


def forget_stream(key_id: str) -> str:
    return f"$forget-{key_id}"


def encode_forget(key_id: str, actor: str, actor_key: str, reason: str, accounts: list[str]) -> bytes:
    """The stored state of a forget: whose key (its id, naming no one), who, why (sealed), which accounts."""
    state = {"v": FORMAT, "at": _now_ms(), "key_id": key_id, "actor": actor, "actor_key": actor_key}
    return orjson.dumps({**state, "reason": reason, "accounts": accounts})


def decode(state: bytes) -> State:
    """A stored state in the current format, upcast step by step from the format it was written in."""
    body: State = orjson.loads(state)
    version = body.get("v")
    while version != FORMAT:
        upcast = UPCASTERS.get(version) if isinstance(version, int) else None
        if upcast is None:
            raise FormatError(f"stored format {version!r} is not readable by format {FORMAT} code")
        body = upcast(body)
        version = body.get("v")
    return body


def compact_decision(
    rule: str,
    facts: dict[str, Any],
    changes: dict[str, Any],
    command: dict[str, Any] | None,
    account_id: str,
    policy_version: str,
    cause_event_id: str,
    occurred_at: str,
    brake: dict[str, Any] | None = None,
    whole: bool = False,
) -> dict[str, Any]:
    """A decision as stored: the command without the fields the envelope already holds.

    Refuses a command whose repeated fields differ from the envelope's, so nothing
    is ever left out that `expand_decision` would not give back exactly; with
    `whole` (a released hold's command) the command is stored as it is.
    """
    stored: dict[str, Any] = {"rule": rule, "facts": facts}
    if changes:
        stored["changes"] = changes
    if command is not None:
        if whole:
            stored["command"] = command
        else:
            expected = (account_id, policy_version, rule, cause_event_id, occurred_at)
            if tuple(command[name] for name in _ENVELOPE_FIELDS) != expected:
                raise ValueError(f"command {command.get('command_id')} does not repeat its envelope")
            stored["command"] = {name: value for name, value in command.items() if name not in _ENVELOPE_FIELDS}
    if brake is not None:
        stored["brake"] = brake
    return stored


def expand_decision(
    stored: dict[str, Any], account_id: str, policy_version: str, cause_event_id: str, occurred_at: str
) -> dict[str, Any]:
    """The full decision as the engine emitted it (keys in the order of `RecordedDecision`, the command's
    in the order `events.commands.command_json` writes them)."""
    decision = {
        "rule": stored["rule"],
        "policy_version": policy_version,
        "cause_event_id": cause_event_id,
        "occurred_at": occurred_at,
        "facts": stored["facts"],
        "changes": stored.get("changes", {}),
        "command": expand_command(stored, account_id, policy_version, cause_event_id, occurred_at),
    }
    if "brake" in stored:
        decision["brake"] = stored["brake"]
    return decision


def read_decision(
    stored: dict[str, Any], account_id: str, policy_version: str, cause_event_id: str, occurred_at: str
) -> RecordedDecision:
    """`expand_decision` as the tuple readers decode (not validated again: the engine wrote it)."""
    return RecordedDecision(
        stored["rule"],
        policy_version,
        cause_event_id,
        occurred_at,
        stored["facts"],
        stored.get("changes", {}),
        expand_command(stored, account_id, policy_version, cause_event_id, occurred_at),
        stored.get("brake"),
    )


def expand_command(
    stored: dict[str, Any], account_id: str, policy_version: str, cause_event_id: str, occurred_at: str
) -> dict[str, Any] | None:
    """A stored decision's command as the engine emitted it (None: the decision had none)."""
    command: dict[str, Any] | None = stored.get("command")
    if command is not None and "cause_event_id" not in command:
        command = {
            "command_id": command["command_id"],
            "account_id": account_id,
            "policy_version": policy_version,
            "rule": stored["rule"],
            "cause_event_id": cause_event_id,
            "occurred_at": occurred_at,
            **{name: value for name, value in command.items() if name != "command_id"},
        }
    return command


def recorded_decisions(account_id: str, state: State) -> Iterator[dict[str, Any]]:
    """The full decisions of a decoded fact state, in the order they were taken."""
    fact = state["fact"]
    for stored in state.get("decisions", ()):
        yield expand_decision(stored, account_id, state["policy"], fact["event_id"], fact["occurred_at"])


def recorded_commands(account_id: str, state: State) -> Iterator[dict[str, Any]]:
    """The commands of a decoded fact state, in emission order."""
    for decision in recorded_decisions(account_id, state):
        if decision["command"] is not None:
            yield decision["command"]


def balances_of(state: State) -> dict[str, Any]:
    return dict(zip(BALANCE_FIELDS, state["balances"], strict=True))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Balances(NamedTuple):
    """The account's money position after a fact (amounts are exact decimals), as readers decode it.

    A plain tuple, not a validated model: readers build one per stored fact from what the engine wrote.
    """

    overdue_outstanding: Decimal
    outstanding: Decimal
    credit: Decimal
    days_past_due: int
    active_plan_id: str | None
    overdue_bills: int


@dataclass(frozen=True)
class OutboxPage:
    """The commands of a page of recorded facts (the outbox), and the position after the page."""

    commands: list[tuple[int, dict[str, Any]]]  # (notification id, command) in emission order
    read: int  # recorded facts read, with or without a command
    next_position: int


class RecordedDecision(NamedTuple):
    """A decision as readers decode it (`expand_decision`'s fields): a plain tuple, built once per stored
    decision without validating again what the engine validated when it decided."""

    rule: str
    policy_version: str
    cause_event_id: str
    occurred_at: str
    facts: dict[str, Any]
    changes: dict[str, Any]
    command: dict[str, Any] | None
    brake: dict[str, Any] | None = None  # the emergency brake's verdict on an automatic lock


def account_status(card_locked: bool, line_suspended: bool, overdue_outstanding: Decimal) -> str:
    """One word for an account: locked, suspended (plan path), overdue or current."""
    if card_locked:
        return "locked"
    if line_suspended:
        return "suspended"
    if overdue_outstanding > 0:
        return "overdue"
    return "current"


class Bucket(StrEnum):
    """Delinquency buckets by days past due (an enum, so the API's schema lists them)."""

    CURRENT = "current"
    DAYS_1_30 = "1-30"
    DAYS_31_60 = "31-60"
    DAYS_61_90 = "61-90"
    DAYS_91_180 = "91-180"
    DAYS_180_PLUS = "180+"


class StatusWord(StrEnum):
    """The one word `account_status` gives an account."""

    LOCKED = "locked"
    SUSPENDED = "suspended"
    OVERDUE = "overdue"
    CURRENT = "current"


DELINQUENCY_BUCKETS = tuple(bucket.value for bucket in Bucket)


def delinquency_bucket(days_past_due: int) -> str:
    """The industry's buckets: current, 1-30, 31-60, 61-90, 91-180, 180+."""
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    if days_past_due <= 180:
        return "91-180"
    return "180+"
