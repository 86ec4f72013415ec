"""Reconciliation logic: what came in against what the store, the dead letters and the topics hold.

Pure: every input is an iterable of plain values (adapters.reconcile.gather
reads them from files, Kafka and the store), so the rules can be tested on
small synthetic cases, including every kind of gap.

For each message that came in the expected outcome is computable:

* it breaks the contract -> it must have a dead letter (same source position, same payload digest: a
  letter keeps the message with its personal data masked, and the digest of that, adapters.privacy.masking);
* it is valid -> its `event_id` is in the deduplication index with the same
  digest, or, if the engine refused it (unknown account, a payload that
  differs from the one recorded under its id, ...), it has a dead letter.
  Repeats of an earlier message are recorded once, by construction of the
  index; "applied twice" is judged on the streams themselves.

The store must also agree with itself: every fact on exactly one stream once
(DayClosed facts legitimately reach several accounts: counted per stream),
every fact indexed with its digest and every index row applied. Commands:
each recorded command id at least once on the commands topic, none unknown;
repeats are the relay's at-least-once cost, a gap only with `strict_once`.
Read models: every projection at the store's head, and `account_status`
agreeing with the last card command of each account.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from adapters.privacy.masking import letter_digest
from events.inbound import InvalidEvent, ParsedEvent, parse_event
from events.operator import ACTION_TYPES
from events.recorded import CLOCK_STREAM

"""The stream name of the platform clock's DayRecorded facts."""

GAP_KINDS: dict[str, str] = {
    "missing_event": "a valid message that is neither recorded nor dead-lettered: lost",
    "missing_dead_letter": "a message that could not be applied and has no dead letter",
    "unconsumed": "the store's recorded offset stops short of the messages that came in",
    "applied_twice": "an event recorded more than once on the same stream",
    "unindexed_fact": "a fact on a stream without its deduplication row, or with another digest",
    "unapplied_index": "a deduplication row whose fact is on no stream",
    "unexpected_event": "an event recorded that is not among the messages that came in",
    "command_recorded_twice": "two decisions in the store carry the same command id",
    "missing_command": "a recorded command that is not on the commands topic",
    "unknown_command": "a command id on the commands topic that the store never decided",
    "repeated_command": "a command on the commands topic more than once (a gap only with strict once)",
    "projection_behind": "a read model behind the store's head",
    "projection_ahead": "a read model past the store's head (it was built from another store)",
    "projection_mismatch": "a read model that disagrees with the store",
    "stuck_lock": "an account locked without an active reason (no unpaid overdue, no repayment plan running)",
}


RecordedDigest = Callable[[ParsedEvent], bytes | None]


def _as_parsed(parsed: ParsedEvent) -> bytes | None:
    return parsed.digest


@dataclass(frozen=True)
class Message:
    """One message that came in: line `offset` of a JSONL file, or a record of a topic partition."""

    source: str
    partition: int | None
    offset: int
    value: bytes | None

    @property
    def key(self) -> tuple[str, int | None, int]:
        return (self.source, self.partition, self.offset)


@dataclass(frozen=True)
class Letter:
    """A dead letter, by the source it names, with the digest of the message it keeps (`letter_digest`)."""

    source: str
    partition: int | None
    offset: int
    digest: str
    reason: str = ""

    @property
    def key(self) -> tuple[str, int | None, int]:
        return (self.source, self.partition, self.offset)


@dataclass(frozen=True)
class Indexed:
    """A row of the store's deduplication index (fengkong_inbound)."""

    event_id: str
    digest: bytes


@dataclass(frozen=True)
class Fact:
    """A recorded fact on a stream: on an account, or a closed day on the clock (CLOCK_STREAM)."""

    stream: str
    event_id: str
    type: str
    digest: bytes
    position: int
    home: str  # the stream the fact belongs on: its own account's, or the clock's for a DayClosed


@dataclass(frozen=True)
class RecordedCommand:
    """A command in a Decided event of the store (the outbox)."""

    command_id: str
    account_id: str
    type: str
    position: int


@dataclass(frozen=True)
class ReadModels:
    """Each projection's position, and account_status's card_locked per account (None: not read)."""

    positions: Mapping[str, int]
    card_locked: Mapping[str, bool] | None = None
    stuck: Sequence[str] | None = None  # accounts locked without an active reason (None: not read)


@dataclass(frozen=True)
class Gap:
    kind: str
    ref: str
    detail: str


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.gaps

    def gap(self, kind: str, ref: str, detail: str) -> None:
        assert kind in GAP_KINDS, kind
        self.gaps.append(Gap(kind, ref, detail))

    def by_kind(self) -> dict[str, list[Gap]]:
        grouped: dict[str, list[Gap]] = {}
        for gap in self.gaps:
            grouped.setdefault(gap.kind, []).append(gap)
        return grouped

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        """JSON-ready: counts, gaps by kind (each kind with its count, its meaning and its items), notes."""
        return {
            "ok": self.ok,
            "counts": dict(self.counts),
            "gaps": {
                kind: {
                    "count": len(items),
                    "meaning": GAP_KINDS[kind],
                    "items": [asdict(gap) for gap in items[:limit]],
                }
                for kind, items in self.by_kind().items()
            },
            "notes": list(self.notes),
        }


def ref_of(source: str, partition: int | None, offset: int) -> str:
    """'file:line' or 'topic:partition:offset'."""
    return f"{source}:{offset}" if partition is None else f"{source}:{partition}:{offset}"


def reconcile(
    inputs: Iterable[Message],
    letters: Iterable[Letter] | None,
    index: Iterable[Indexed],
    facts: Iterable[Fact],
    commands: Iterable[RecordedCommand],
    *,
    head: int,
    positions: Mapping[tuple[str, int], int] | None = None,
    published: Mapping[str, int] | None = None,
    read_models: ReadModels | None = None,
    complete: bool = True,
    strict_once: bool = False,
    recorded_digest: RecordedDigest = _as_parsed,
) -> Report:
    """Compare everything; reads each iterable once: the index, the letters, the inputs, the facts, the commands.

    `letters=None`: no dead letters were given, so every message that is not recorded is a gap.
    `positions`: the store's next offset per (topic, partition), to check the inputs were consumed.
    `published`: command id -> times it is on the commands topic (None: not checked).
    `complete=False`: the inputs are part of what the store holds, so extra events are not gaps.
    `recorded_digest`: the digest the store keeps for a valid message (personal fields sealed under their
    customer's key: adapters.privacy.sealer.RecordedDigests); None when its customer was forgotten.
    """
    report = Report()
    counts: Counter[str] = Counter()
    indexed = {row.event_id: row for row in index}
    counts["indexed"] = len(indexed)

    lettered: dict[tuple[str, int | None, int], list[str]] = {}
    for letter in letters or ():
        lettered.setdefault(letter.key, []).append(letter.digest)
        counts["dead_letters"] += 1
    counts["dead_letters_repeated"] = sum(len(values) - 1 for values in lettered.values())

    seen_ids, ends = _check_inputs(
        inputs, indexed, lettered if letters is not None else None, report, counts, recorded_digest
    )
    if letters is None:
        report.notes.append("no dead letters given: a message the engine refused counts as lost")
    _check_consumed(ends, positions or {}, report)

    streams, actions = _check_facts(facts, indexed, report, counts)
    if complete:
        for event_id in sorted(set(indexed) - seen_ids - actions):
            report.gap("unexpected_event", event_id, "in the store's index, not among the messages that came in")
    else:
        counts["recorded_outside_inputs"] = len(set(indexed) - seen_ids - actions)

    last_card = _check_commands(commands, published, strict_once, report, counts)
    if read_models is None:
        report.notes.append("read models not checked")
    else:
        _check_read_models(read_models, head, streams, last_card, report)
    counts["head"] = head
    report.counts = dict(sorted(counts.items()))
    return report


def _check_inputs(
    inputs: Iterable[Message],
    indexed: Mapping[str, Indexed],
    lettered: Mapping[tuple[str, int | None, int], list[str]] | None,
    report: Report,
    counts: Counter[str],
    recorded_digest: RecordedDigest,
) -> tuple[set[str], dict[tuple[str, int], int]]:
    """Each message's expected outcome against the index and the dead letters.

    Returns the valid messages' event ids and, per topic partition, the offset after the last message.
    """
    seen_ids: set[str] = set()
    ends: dict[tuple[str, int], int] = {}
    matched: set[tuple[str, int | None, int]] = set()
    for message in inputs:
        counts["inputs"] += 1
        if message.partition is not None:
            where = (message.source, message.partition)
            ends[where] = max(ends.get(where, -1), message.offset)
        ref = ref_of(*message.key)
        letters_here = lettered.get(message.key, ()) if lettered is not None else ()
        has_letter = bool(letters_here) and letter_digest(message.value or b"") in letters_here
        if has_letter:
            matched.add(message.key)
        try:
            if not message.value:
                raise InvalidEvent("event: empty message (no value)")
            parsed = parse_event(message.value)
        except InvalidEvent as invalid:
            counts["invalid"] += 1
            if not has_letter:
                report.gap("missing_dead_letter", ref, f"breaks the contract ({invalid.reason}); no dead letter")
            continue
        counts["valid"] += 1
        event_id = parsed.event.event_id
        if event_id in seen_ids:
            counts["repeats"] += 1
        seen_ids.add(event_id)
        row = indexed.get(event_id)
        digest = recorded_digest(parsed) if row is not None else parsed.digest
        if row is not None and digest is None:
            counts["recorded"] += 1
            counts["recorded_forgotten"] += 1  # its customer was forgotten: personal fields not compared
        elif row is not None and row.digest in (digest, parsed.digest):  # plain: recorded before sealing
            counts["recorded"] += 1
        elif has_letter:
            counts["refused"] += 1
        elif row is not None:
            report.gap(
                "missing_dead_letter",
                ref,
                f"event_id {event_id} is recorded with another payload; this one was neither applied nor dead-lettered",
            )
        else:
            report.gap("missing_event", ref, f"event_id {event_id} ({parsed.event.type}) not recorded, no dead letter")
    counts["distinct_event_ids"] = len(seen_ids)
    if lettered is not None:
        counts["dead_letters_outside_inputs"] = len(set(lettered) - matched)
    return seen_ids, {where: last + 1 for where, last in ends.items()}


def _check_consumed(
    ends: Mapping[tuple[str, int], int], positions: Mapping[tuple[str, int], int], report: Report
) -> None:
    """For topics the store records offsets of: every partition consumed up to the last message given."""
    recorded_sources = {source for source, _ in positions}
    for (source, partition), end in sorted(ends.items()):
        if source not in recorded_sources:
            continue  # e.g. the clock topic: copied by the clock relay, not consumed into the store
        at = positions.get((source, partition), 0)
        if at < end:
            report.gap("unconsumed", f"{source}:{partition}", f"store recorded offset {at}, messages up to {end - 1}")
    if ends and not recorded_sources:
        report.notes.append("the store records no offsets of these topics: consumption not checked")


def _check_facts(
    facts: Iterable[Fact], indexed: Mapping[str, Indexed], report: Report, counts: Counter[str]
) -> tuple[set[str], set[str]]:
    """Each fact once per stream, indexed with its digest; each index row applied.

    Returns the account streams, and the event ids of operators' actions (recorded, never among the inputs).
    """
    seen: set[tuple[str, str]] = set()
    home: set[str] = set()  # event ids whose own stream (account, or clock for DayClosed) holds them
    streams: set[str] = set()
    actions: set[str] = set()
    for fact in facts:
        counts["facts"] += 1
        if fact.type in ACTION_TYPES:
            actions.add(fact.event_id)
        key = (fact.stream, fact.event_id)
        ref = f"{fact.stream}/{fact.event_id}"
        if key in seen:
            report.gap("applied_twice", ref, f"again at notification {fact.position}")
            continue
        seen.add(key)
        if fact.stream != CLOCK_STREAM:
            streams.add(fact.stream)
        row = indexed.get(fact.event_id)
        if row is None:
            report.gap("unindexed_fact", ref, f"notification {fact.position}: no deduplication row")
            continue
        if row.digest != fact.digest:
            report.gap("unindexed_fact", ref, f"notification {fact.position}: digest differs from the index")
            continue
        if fact.stream == fact.home:
            home.add(fact.event_id)
        elif fact.type != "DayClosed":  # a DayClosed is also brought to the accounts whose deadlines it reaches
            report.gap("unindexed_fact", ref, f"notification {fact.position}: belongs to account {fact.home}")
    for event_id in sorted(set(indexed) - home):
        report.gap("unapplied_index", event_id, "indexed but not recorded on its own account's stream or the clock")
    counts["streams"] = len(streams)
    counts["operator_actions"] = len(actions)
    return streams, actions


def _check_commands(
    commands: Iterable[RecordedCommand],
    published: Mapping[str, int] | None,
    strict_once: bool,
    report: Report,
    counts: Counter[str],
) -> dict[str, bool]:
    """Command ids unique in the store and each on the topic; returns the last card command per account."""
    recorded: set[str] = set()
    locked: dict[str, bool] = {}
    for command in commands:
        counts["commands"] += 1
        if command.command_id in recorded:
            report.gap("command_recorded_twice", command.command_id, f"again at notification {command.position}")
        recorded.add(command.command_id)
        if command.type in ("LockCard", "UnlockCard"):
            locked[command.account_id] = command.type == "LockCard"
    if published is None:
        report.notes.append("commands topic not checked")
        return locked
    counts["commands_published"] = sum(1 for c in published if c in recorded)
    counts["command_deliveries"] = sum(published.values())
    counts["commands_repeated"] = sum(1 for n in published.values() if n > 1)
    counts["command_repeats"] = sum(n - 1 for n in published.values() if n > 1)
    for command_id in sorted(recorded - set(published)):
        report.gap("missing_command", command_id, "recorded in the store, not on the commands topic")
    for command_id in sorted(set(published) - recorded):
        report.gap("unknown_command", command_id, f"on the commands topic {published[command_id]} time(s)")
    if strict_once:
        for command_id, times in sorted(published.items()):
            if times > 1 and command_id in recorded:
                report.gap("repeated_command", command_id, f"{times} times on the commands topic")
    return locked


def _check_read_models(
    read_models: ReadModels, head: int, streams: set[str], last_card: Mapping[str, bool], report: Report
) -> None:
    behind = False
    for name, position in sorted(read_models.positions.items()):
        if position < head:
            behind = True
            report.gap("projection_behind", name, f"at {position}, store head {head}")
        elif position > head:
            behind = True
            report.gap("projection_ahead", name, f"at {position}, store head {head}")
    if read_models.card_locked is None:
        return
    if behind:
        report.notes.append("account_status not cross-checked: read models are not at the head")
        return
    for account_id in read_models.stuck or ():
        report.gap("stuck_lock", account_id, "card locked with no unpaid overdue and no repayment plan running")
    rows = read_models.card_locked
    for account_id in sorted(streams - set(rows)):
        report.gap("projection_mismatch", account_id, "account in the store, no account_status row")
    for account_id in sorted(set(rows) - streams):
        report.gap("projection_mismatch", account_id, "account_status row for an account the store does not hold")
    for account_id in sorted(streams & set(rows)):
        expected = last_card.get(account_id, False)
        if rows[account_id] != expected:
            report.gap(
                "projection_mismatch",
                account_id,
                f"account_status card_locked={rows[account_id]}, last card command says {expected}",
            )
