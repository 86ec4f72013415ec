"""Reconciliation rules on small synthetic worlds: a consistent world passes, each kind of gap is caught."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.privacy.masking import letter_digest
from adapters.reconcile.compare import (
    CLOCK_STREAM,
    GAP_KINDS,
    Fact,
    Indexed,
    Letter,
    Message,
    ReadModels,
    RecordedCommand,
    Report,
    reconcile,
)
from events.inbound import parse_event
from tests.builders import Events

TOPIC = "billing.events"


@dataclass
class World:
    """What came in, and a store, dead letters, topic and read models that agree with it."""

    inputs: list[Message] = field(default_factory=list)
    letters: list[Letter] = field(default_factory=list)
    index: dict[str, Indexed] = field(default_factory=dict)
    facts: list[Fact] = field(default_factory=list)
    commands: list[RecordedCommand] = field(default_factory=list)
    published: Counter[str] = field(default_factory=Counter)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    projections: dict[str, int] = field(default_factory=dict)
    card_locked: dict[str, bool] = field(default_factory=dict)
    refused: set[bytes] = field(default_factory=set)

    @property
    def head(self) -> int:
        return len(self.facts) + len(self.commands)

    def take(
        self, value: bytes, *, refused: bool = False, partition: int = 0, day_accounts: tuple[str, ...] = ()
    ) -> None:
        """One message came in; record it (or dead-letter it) as a correct engine would."""
        offset = self.positions.get((TOPIC, partition), 0)
        self.inputs.append(Message(TOPIC, partition, offset, value))
        self.positions[(TOPIC, partition)] = offset + 1
        try:
            parsed = parse_event(value)
        except ValueError:
            self.letters.append(Letter(TOPIC, partition, offset, letter_digest(value), "contract"))
            return
        event = parsed.event
        if refused or value in self.refused:
            self.refused.add(value)  # a correct engine refuses a repeat of what it refused
            self.letters.append(Letter(TOPIC, partition, offset, letter_digest(value), "engine"))
            return
        if event.event_id in self.index and self.index[event.event_id].digest != parsed.digest:
            self.letters.append(Letter(TOPIC, partition, offset, letter_digest(value), "engine"))
            return
        if event.event_id in self.index:
            return  # a repeat: recorded once
        account = getattr(event, "account_id", None)
        self.index[event.event_id] = Indexed(event.event_id, parsed.digest)
        streams = [CLOCK_STREAM, *day_accounts] if account is None else [account]
        for stream in streams:
            self.facts.append(
                Fact(stream, event.event_id, event.type, parsed.digest, self.head + 1, account or CLOCK_STREAM)
            )
            if stream != CLOCK_STREAM:
                self.card_locked.setdefault(stream, False)
        if event.type == "OverdueReported" and account is not None:
            self.command(f"lock-{event.event_id}", account, "LockCard")
        if event.type == "RepaymentReceived" and account is not None:
            self.command(f"unlock-{event.event_id}", account, "UnlockCard")

    def command(self, command_id: str, account: str, kind: str) -> None:
        self.commands.append(RecordedCommand(command_id, account, kind, self.head + 1))
        self.published[command_id] += 1
        self.card_locked[account] = kind == "LockCard"

    def check(self, **options: Any) -> Report:
        projections = dict.fromkeys(("account_status", "decisions"), self.head) | self.projections
        return reconcile(
            self.inputs,
            self.letters,
            self.index.values(),
            self.facts,
            self.commands,
            head=self.head,
            positions=self.positions,
            published=self.published,
            read_models=ReadModels(projections, self.card_locked),
            **options,
        )


def raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def a_world() -> World:
    a, b, clock = Events("A"), Events("B"), Events("clock")
    world = World()
    opened = a.opened()
    world.take(raw(opened))
    world.take(raw(b.opened()), partition=1)
    world.take(raw(a.bill("a1", "100.00", "2026-09-01")))
    world.take(raw(a.overdue("a1", 3, "100.00", "2026-09-04T09:00:00")))
    world.take(raw(opened))  # an upstream retry
    world.take(b'{"broken')  # breaks the contract
    world.take(raw(Events("GHOST").bill("g", "1.00", "2026-09-01")), refused=True)  # unknown account
    world.take(raw(opened | {"data": {**opened["data"], "customer_id": "other"}}))  # same id, other payload
    world.take(raw(clock.day_closed("2026-09-05")), day_accounts=("A", "B"))
    world.take(raw(a.pay("p1", "100.00", "2026-09-06T10:00:00")))
    return world


def kinds(report: Report) -> set[str]:
    return {gap.kind for gap in report.gaps}


def test_a_consistent_world_reconciles_and_counts_what_came_in() -> None:
    report = a_world().check()
    assert report.ok, report.gaps
    assert report.counts["inputs"] == 10
    assert report.counts["invalid"] == 1
    assert report.counts["repeats"] == 2  # the retry, and the reused id
    assert report.counts["refused"] == 2
    assert report.counts["dead_letters"] == 3
    assert report.counts["commands_published"] == 2


def test_a_lost_event_is_a_gap() -> None:
    world = a_world()
    lost = world.inputs[2]
    event_id = parse_event(lost.value or b"").event.event_id
    del world.index[event_id]
    world.facts = [f for f in world.facts if f.event_id != event_id]
    report = world.check()
    assert kinds(report) == {"missing_event"}
    assert report.gaps[0].ref == f"{TOPIC}:{lost.partition}:{lost.offset}"


def test_an_invalid_message_without_a_dead_letter_is_a_gap() -> None:
    world = a_world()
    world.letters = [letter for letter in world.letters if letter.reason != "contract"]
    assert kinds(world.check()) == {"missing_dead_letter"}


def test_a_refused_message_without_a_dead_letter_is_a_gap_whether_its_id_is_recorded_or_not() -> None:
    world = a_world()
    world.letters = [letter for letter in world.letters if letter.reason != "engine"]
    report = world.check()
    assert [gap.kind for gap in report.gaps] == ["missing_event", "missing_dead_letter"]
    assert "another payload" in report.gaps[1].detail


def test_a_dead_letter_must_hold_the_digest_of_the_message_at_its_position() -> None:
    world = a_world()
    world.letters = [replace(letter, digest=letter_digest(b"something else")) for letter in world.letters]
    assert kinds(world.check()) == {"missing_event", "missing_dead_letter"}


def test_without_dead_letters_every_message_not_recorded_is_a_gap() -> None:
    world = a_world()
    report = reconcile(world.inputs, None, world.index.values(), world.facts, world.commands, head=world.head)
    assert Counter(gap.kind for gap in report.gaps) == {"missing_dead_letter": 2, "missing_event": 1}


def test_a_partition_the_store_did_not_consume_to_the_end_is_a_gap() -> None:
    world = a_world()
    world.inputs.append(Message(TOPIC, 1, 1, world.inputs[1].value))  # a repeat: no other sign of it
    report = world.check()
    assert kinds(report) == {"unconsumed"}
    assert report.gaps[0].ref == f"{TOPIC}:1"


def test_a_fact_on_its_stream_twice_is_applied_twice() -> None:
    world = a_world()
    world.facts.append(replace(world.facts[2], position=world.head + 1))
    assert kinds(world.check()) == {"applied_twice"}


def test_a_day_closed_on_many_accounts_is_fine_but_twice_on_one_is_not() -> None:
    world = a_world()
    day = next(f for f in world.facts if f.type == "DayClosed" and f.stream == "A")
    assert world.check().ok
    world.facts.append(replace(day, position=world.head + 1))
    assert kinds(world.check()) == {"applied_twice"}


def test_facts_and_index_must_agree() -> None:
    world = a_world()
    world.facts.append(Fact("A", "not-indexed", "BillIssued", bytes(16), world.head + 1, "A"))
    assert kinds(world.check()) == {"unindexed_fact"}
    world = a_world()
    world.facts[2] = replace(world.facts[2], digest=b"\xff" * 16)
    assert kinds(world.check()) == {"unindexed_fact", "unapplied_index"}
    world = a_world()
    world.facts = [fact for fact in world.facts if fact.stream != CLOCK_STREAM]
    report = world.check()
    assert kinds(report) == {"unapplied_index"}
    assert "the clock" in report.gaps[0].detail


def test_a_forgotten_customer_s_message_is_recorded_but_not_compared() -> None:
    """The store keeps B's opening under the digest of its sealed form; once B's key is deleted it can never be
    sealed again: reconcile is told None (adapters.privacy.sealer.RecordedDigests) and counts it recorded.
    Compared plain instead, it would read as recorded with another payload and never dead-lettered."""
    world = a_world()
    sealed = b"\x5e" * 16
    world.index["B-1"] = replace(world.index["B-1"], digest=sealed)
    world.facts = [replace(f, digest=sealed) if f.event_id == "B-1" else f for f in world.facts]
    report = world.check(recorded_digest=lambda p: None if p.event.event_id == "B-1" else p.digest)
    assert report.ok and report.counts["recorded_forgotten"] == 1
    plain = world.check(recorded_digest=lambda p: p.digest)
    assert [(gap.kind, gap.ref) for gap in plain.gaps] == [("missing_dead_letter", f"{TOPIC}:1:0")]


def test_an_event_recorded_that_did_not_come_in_is_a_gap_unless_the_input_is_partial() -> None:
    world = a_world()
    world.inputs = world.inputs[:-1]
    world.positions[(TOPIC, 0)] -= 1
    assert kinds(world.check()) == {"unexpected_event"}
    assert world.check(complete=False).ok


def test_commands_each_on_the_topic_none_unknown_repeats_only_with_strict_once() -> None:
    world = a_world()
    first = world.commands[0].command_id
    world.published[first] += 2
    report = world.check()
    assert report.ok and report.counts["command_repeats"] == 2
    assert kinds(world.check(strict_once=True)) == {"repeated_command"}
    del world.published[first]
    world.published["from-elsewhere"] = 1
    assert kinds(world.check()) == {"missing_command", "unknown_command"}
    world = a_world()
    world.commands.append(replace(world.commands[0], position=world.head + 1))
    assert "command_recorded_twice" in kinds(world.check())


def test_read_models_must_be_at_the_head_and_agree_with_the_commands() -> None:
    world = a_world()
    world.projections["decisions"] = world.head - 1
    world.card_locked["A"] = not world.card_locked["A"]
    report = world.check()
    assert kinds(report) == {"projection_behind"}, "no cross-check of rows that are not at the head"
    world.projections["decisions"] = world.head + 3
    assert kinds(world.check()) == {"projection_ahead"}
    del world.projections["decisions"]
    report = world.check()
    assert kinds(report) == {"projection_mismatch"}
    world = a_world()
    world.card_locked["C"] = False
    del world.card_locked["B"]
    assert [gap.ref for gap in world.check().gaps] == ["B", "C"]


# ------------------------------------------------------------ property: any single corruption is caught


@st.composite
def worlds(draw: st.DrawFn) -> World:
    accounts = [Events(f"H{i}") for i in range(draw(st.integers(1, 3)))]
    world = World()
    for builder in accounts:
        world.take(raw(builder.opened()), partition=int(builder.account_id[1:]) % 2)
    bills: dict[str, list[str]] = {b.account_id: [] for b in accounts}
    for step in range(draw(st.integers(1, 25))):
        builder = draw(st.sampled_from(accounts))
        action = draw(st.sampled_from(["bill", "overdue", "pay", "repeat", "broken", "refused"]))
        partition = int(builder.account_id[1:]) % 2
        if action == "bill":
            bills[builder.account_id].append(f"b{step}")
            world.take(raw(builder.bill(f"b{step}", "10.00", "2026-09-01")), partition=partition)
        elif action == "overdue" and bills[builder.account_id]:
            event = builder.overdue(bills[builder.account_id][-1], 2, "10.00", "2026-09-03T09:00:00")
            world.take(raw(event), partition=partition)
        elif action == "pay":
            world.take(raw(builder.pay(f"p{step}", "10.00", "2026-09-04T09:00:00")), partition=partition)
        elif action == "repeat":
            world.take(draw(st.sampled_from(world.inputs)).value or b"", partition=partition)
        elif action == "broken":
            world.take(draw(st.binary(max_size=20)), partition=partition)
        else:
            world.take(raw(Events("NOBODY").pay(f"x{step}", "1.00", "2026-09-04T09:00:00")), refused=True)
    return world


CORRUPTIONS = ("lose_event", "lose_letter", "apply_twice", "drop_command", "extra_command", "lag", "flip_lock")


def corrupt(world: World, how: str, data: st.DataObject) -> str | None:
    """Break the world one way; the gap kind reconcile must then report (None: not applicable here)."""
    if how == "lose_event":
        event_id = data.draw(st.sampled_from(sorted(world.index)))
        del world.index[event_id]
        world.facts = [fact for fact in world.facts if fact.event_id != event_id]
        return "missing_event"
    if how == "lose_letter" and world.letters:
        world.letters.remove(data.draw(st.sampled_from(world.letters)))
        return "missing_dead_letter"  # or missing_event for a valid refused message
    if how == "apply_twice":
        world.facts.append(replace(data.draw(st.sampled_from(world.facts)), position=world.head + 1))
        return "applied_twice"
    if how == "drop_command" and world.commands:
        del world.published[data.draw(st.sampled_from(world.commands)).command_id]
        return "missing_command"
    if how == "extra_command":
        world.published["never-decided"] += 1
        return "unknown_command"
    if how == "lag":
        world.projections["account_status"] = world.head - 1
        return "projection_behind"
    if how == "flip_lock":
        account = data.draw(st.sampled_from(sorted(world.card_locked)))
        world.card_locked[account] = not world.card_locked[account]
        return "projection_mismatch"
    return None


@settings(max_examples=150, deadline=None)
@given(world=worlds(), how=st.sampled_from(CORRUPTIONS), data=st.data())
def test_any_single_corruption_of_a_consistent_world_is_reported(world: World, how: str, data: st.DataObject) -> None:
    assert world.check().ok
    expected = corrupt(world, how, data)
    report = world.check()
    if expected is None:
        assert report.ok
        return
    assert not report.ok
    found = kinds(report)
    assert found <= set(GAP_KINDS)
    if how == "lose_event":
        # an event that was lost may also have been the reason another message was dead-lettered
        assert "missing_event" in found or "missing_dead_letter" in found
    elif how == "lose_letter":
        assert found <= {"missing_dead_letter", "missing_event"}
    else:
        assert expected in found, (how, report.gaps)
