"""The two seams stream adapters use: a DayClosed scope and a hook before the transaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from engine.account import CreditAccount
from engine.application import parse_all
from engine.batch import CONTRACT, ENGINE, Outcome
from tests.builders import Events
from tests.support.wiring import open_engine

CLOSE = "2026-10-13"  # the review deadline of a request made on 2026-09-30


def under_review(account_id: str) -> list[bytes]:
    """An account locked on a plan, with an unlock request whose deadline is CLOSE."""
    e = Events(account_id)
    events = [
        e.opened(),
        e.bill("b1", "600.00", "2026-09-01"),
        e.overdue("b1", 1, "600.00", "2026-09-02T10:00:00"),
        e.plan("P", "2026-09-20T10:00:00", ("2026-10-20", "300.00"), ("2026-11-20", "300.00")),
        e.request("R", "2026-09-30T10:00:00"),
    ]
    return [json.dumps(event).encode() for event in events]


def day_closed(day: str, event_id: str | None = None) -> bytes:
    event = Events("clock").day_closed(day)
    event["event_id"] = event_id or f"day-{day}"
    return json.dumps(event).encode()


def escalations(store: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for command in open_engine(store).commands():
        if command.rule == "review.escalate":
            found.setdefault(command.account_id, []).append(command.command_id)
    return found


def test_day_scope_limits_the_fan_out_and_a_repeat_completes_it(tmp_path: Path) -> None:
    store = str(tmp_path / "scoped.db")
    engine = open_engine(store)
    engine.process([*under_review("A1"), *under_review("A2"), *under_review("A3")])

    first = engine.process([day_closed(CLOSE)], day_scope=lambda account_id: account_id == "A1")
    assert first[0].outcome is Outcome.ACCEPTED
    assert set(escalations(store)) == {"A1"}

    # The copy of the same DayClosed for another partition: a duplicate that still reaches its accounts.
    second = open_engine(store).process([day_closed(CLOSE)], day_scope=lambda account_id: account_id != "A1")
    assert second[0].outcome is Outcome.DUPLICATE
    assert [c.rule for c in second[0].commands] == ["review.escalate", "review.escalate"]

    reference = str(tmp_path / "reference.db")
    clean = open_engine(reference)
    clean.process([*under_review("A1"), *under_review("A2"), *under_review("A3")])
    clean.process([day_closed(CLOSE)])
    assert escalations(store) == escalations(reference)
    fresh = open_engine(store)  # `engine` still caches A2 and A3 as they were before the second writer
    for account_id in ("A1", "A2", "A3"):
        scoped, unscoped = fresh.account(account_id), clean.account(account_id)
        assert scoped is not None and unscoped is not None
        assert scoped.version == unscoped.version
        assert scoped.controls == unscoped.controls


def test_a_prepared_batch_shows_every_result_and_saves_nothing_until_committed(tmp_path: Path) -> None:
    store = str(tmp_path / "prepared.db")
    engine = open_engine(store)
    e = Events("B1")
    messages = [
        json.dumps(e.opened()).encode(),
        b"{not json",
        json.dumps(Events("NOBODY").bill("x", "1.00", "2026-09-01")).encode(),
    ]
    items = parse_all(messages)
    prepared = engine.prepare(items, {("src", 0): 3})
    assert [(r.index, r.outcome, r.stage) for r in prepared.results] == [
        (0, Outcome.ACCEPTED, ENGINE),
        (1, Outcome.REJECTED, CONTRACT),
        (2, Outcome.REJECTED, ENGINE),
    ]
    # A worker whose dead letters fail never commits: nothing of the batch is in the store.
    fresh = open_engine(store)
    assert fresh.positions("src") == {}
    assert fresh.account("B1") is None

    engine.commit(engine.prepare(items, {("src", 0): 3}))
    assert engine.positions("src") == {0: 3}
    assert open_engine(store).account("B1") is not None


def test_a_defective_event_is_rejected_at_its_own_index_and_the_batch_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = open_engine(str(tmp_path / "poison.db"))
    messages = [json.dumps(event).encode() for event in (Events("P1").opened(), Events("P2").opened())]
    messages += [json.dumps(Events("P3").opened()).encode(), b"[]"]
    handle = CreditAccount.handle

    def defective(self: CreditAccount, parsed: Any, policy: Any, *more: Any) -> Any:
        if self.account_id == "P2":
            raise ZeroDivisionError("a defect")
        return handle(self, parsed, policy, *more)

    monkeypatch.setattr(CreditAccount, "handle", defective)
    results = engine.process(messages, {("src", 0): 4})
    expected = {0: Outcome.ACCEPTED, 1: Outcome.REJECTED, 2: Outcome.ACCEPTED, 3: Outcome.REJECTED}
    assert {r.index: r.outcome for r in results} == expected
    assert "internal error" in (results[1].reason or "")
    assert engine.positions("src") == {0: 4}
    assert engine.account("P1") is not None and engine.account("P3") is not None
    assert engine.account("P2") is None


def paid_then(account_id: str) -> tuple[list[bytes], dict[str, list[bytes]]]:
    """An account billed and paid; what reads the brake's count (a lock) and its history (a retraction) next."""
    e = Events(account_id)
    before = [e.opened(), e.bill("b1", "600.00", "2026-09-01"), e.pay("p1", "100.00", "2026-08-20T10:00:00")]
    nexts = {
        "emitted_between": [e.overdue("b1", 1, "500.00", "2026-09-02T10:00:00")],
        "select_streams": [
            e.make("FactRetracted", "2026-09-03T10:00:00", {"retracted_event_id": f"{account_id}-3", "reason": "typo"})
        ],
    }
    return [json.dumps(x).encode() for x in before], {k: [json.dumps(x).encode() for x in v] for k, v in nexts.items()}


@pytest.mark.parametrize("read", ["emitted_between", "select_streams"])
def test_a_store_read_that_fails_while_applying_an_event_fails_the_batch_not_the_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: str
) -> None:
    """The brake's count and an account's history are read mid-event: an outage there is no defect of the event."""
    before, nexts = paid_then("S1")
    engine = open_engine(str(tmp_path / "outage.db"))
    engine.process(before)
    calls: list[str] = []

    def unavailable(self: Any, *args: Any) -> Any:
        calls.append(read)
        raise OperationalError("couldn't get a connection after 1.00 sec")

    with monkeypatch.context() as patched:
        patched.setattr(type(engine.store), read, unavailable)
        with pytest.raises(OperationalError):
            engine.process(nexts[read], {("src", 0): 3})
    assert calls == [read], "the event never read the store there: the test proves nothing"

    # Nothing was recorded; once the store is back, the same batch decides as if it had never failed.
    assert open_engine(str(tmp_path / "outage.db")).positions("src") == {}
    engine.forget_cached()
    results = engine.process(nexts[read], {("src", 0): 3})
    clean = open_engine(str(tmp_path / "clean.db"))
    clean.process(before)
    expected = clean.process(nexts[read], {("src", 0): 3})
    assert [(r.outcome, [c.type for c in r.commands]) for r in results] == [
        (r.outcome, [c.type for c in r.commands]) for r in expected
    ]
    assert results[0].outcome is Outcome.ACCEPTED


def test_day_closed_fan_out_does_not_depend_on_batch_boundaries(tmp_path: Path) -> None:
    """An account whose review this batch closed is no longer due, whatever the agenda table said."""
    reviewed = json.dumps(Events("A1").review("R", True, "2026-10-09T10:00:00") | {"event_id": "A1-review"}).encode()
    later = [reviewed, day_closed("2026-10-14"), day_closed("2026-10-15")]
    versions = []
    for cut in ("one batch", "one event per batch"):
        engine = open_engine(str(tmp_path / f"{cut}.db"))
        engine.process(under_review("A1"))  # the agenda table now says A1 is due on CLOSE
        if cut == "one batch":
            engine.process(later)
        else:
            for message in later:
                engine.process([message])
        account = open_engine(str(tmp_path / f"{cut}.db")).account("A1")
        assert account is not None and not account.controls.review_open
        versions.append(account.version)
    assert versions[0] == versions[1]


def test_a_day_another_writer_recorded_meanwhile_is_a_duplicate_that_still_fans_out(tmp_path: Path) -> None:
    """Two workers close the same day for their partitions; one reads the digests just before the other commits."""
    store = str(tmp_path / "race.db")
    ours, theirs = open_engine(store), open_engine(store)
    ours.process([*under_review("A1"), *under_review("A2")])
    theirs.process([day_closed(CLOSE)], day_scope=lambda account_id: account_id == "A2")

    real = ours.store.select_digests
    calls = []

    def read_before_their_commit(event_ids: Any) -> dict[str, str]:
        calls.append(event_ids)
        return {} if len(calls) == 1 else real(event_ids)

    ours.recorder.select_digests = read_before_their_commit  # type: ignore[attr-defined]
    (result,) = ours.process([day_closed(CLOSE)], day_scope=lambda account_id: account_id == "A1")

    assert result.outcome is Outcome.DUPLICATE
    assert [c.rule for c in result.commands] == ["review.escalate"]
    assert set(escalations(store)) == {"A1", "A2"}
