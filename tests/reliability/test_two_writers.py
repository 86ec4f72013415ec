"""Two writers on the same account (a zombie worker after a rebalance): never both succeed.

Two engines, each with its own connections to the same store (SQLite file or
the PostgreSQL server), decide a batch for the same account from the same
state; a barrier between prepare and commit holds both until each has decided,
then both write at once. The store's optimistic concurrency (the stream
version is part of the key) lets exactly one transaction commit; the other
fails as a whole and its engine retries the batch against the new state:
events the winner already recorded become duplicates, its own new events are
applied after the winner's. The offsets they carry never move back.

Hypothesis draws the two batches: the same events (a zombie replaying what
its successor applied), overlapping ones, or different ones.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.application import ATTEMPTS, BatchConflict, RiskEngine, parse_all
from engine.batch import Outcome, Result
from events.inbound import parse_event
from tests.builders import Events
from tests.kafka.support import assert_same, snapshot
from tests.reliability.support import reconcile
from tests.support.wiring import open_engine

LONG = os.environ.get("FENGKONG_LONG") == "1"
SOURCE = "billing.events-twowriters"


def history() -> tuple[list[bytes], list[bytes]]:
    """A short life of account W, and a pool of later events that any order accepts."""
    e = Events("W")
    prefix = [
        e.opened(at="2026-03-02T10:00:00"),
        e.bill("b0", "300.00", "2026-03-20", at="2026-03-03T09:00:00"),
        e.overdue("b0", 2, "300.00", "2026-03-22T02:30:00"),
    ]
    pool = []
    for n in range(1, 9):
        at = f"2026-03-{22 + n:02d}T10:00:00"
        pool += [e.bill(f"b{n}", f"{n}0.00", "2026-04-30", at=at), e.pay(f"p{n}", f"{n}5.00", at)]
    return [orjson.dumps(x) for x in prefix], [orjson.dumps(x) for x in pool]


class Racer:
    """One writer: its own engine; decides, waits at the barrier (first attempt only), then writes."""

    def __init__(self, store: str, barrier: threading.Barrier) -> None:
        self.engine: RiskEngine = open_engine(store)
        self.barrier = barrier
        self.attempts = 0
        self.results: list[Result] = []
        self.error: BaseException | None = None

    def run(self, batch: list[bytes], offset: int) -> None:
        """Prepare, wait for the other writer (first attempt only), commit; prepare again on a conflict."""
        items = parse_all(batch)
        try:
            while True:
                prepared = self.engine.prepare(items, {(SOURCE, 0): offset})
                self.attempts += 1
                if self.attempts == 1:
                    self.barrier.wait(30)
                try:
                    self.engine.commit(prepared)
                except BatchConflict:
                    if self.attempts >= ATTEMPTS:
                        raise
                    continue
                self.results = prepared.results
                return
        except BaseException as error:  # reported by the test
            self.error = error


def race(store: str, first: list[bytes], second: list[bytes]) -> tuple[Racer, Racer]:
    barrier = threading.Barrier(2)
    racers = (Racer(store, barrier), Racer(store, barrier))
    threads = [
        threading.Thread(target=racers[0].run, args=(first, 100 + len(first))),
        threading.Thread(target=racers[1].run, args=(second, 100 + len(second))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads)
    return racers


def check_race(store: str, reference_store: str, first: list[bytes], second: list[bytes], work: Path) -> None:
    prefix, _ = history()
    open_engine(store).process(prefix, {(SOURCE, 0): 100})
    a, b = race(store, first, second)
    assert a.error is None and b.error is None, (a.error, b.error)
    assert sorted([a.attempts, b.attempts])[0] == 1, "one writer committed at its first attempt"
    winner, loser = (a, b) if a.attempts == 1 else (b, a)
    winner_batch, loser_batch = (first, second) if winner is a else (second, first)
    assert loser.attempts >= 2, "both decided from the same state: the other one's write was refused"

    # The loser retried against the winner's state: what the winner applied is a duplicate to it.
    won = {parse_event(raw).event.event_id for raw in winner_batch}
    for raw, result in zip(loser_batch, loser.results, strict=True):
        expected = Outcome.DUPLICATE if parse_event(raw).event.event_id in won else Outcome.ACCEPTED
        assert result.outcome is expected, (result, raw)
    reader = open_engine(store)
    assert reader.positions(SOURCE)[0] == 100 + max(len(first), len(second)), "offsets never go back"

    reference = open_engine(reference_store)
    for batch in (prefix, winner_batch, loser_batch):
        reference.process(batch)
    assert_same(snapshot(store), snapshot(reference_store))
    came_in = work / "came-in.jsonl"
    came_in.write_bytes(b"".join(line + b"\n" for line in [*prefix, *first, *second]))
    reconcile(store, "--input", str(came_in), "--dead-letter", str(work / "none.jsonl"))


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[bytes], list[bytes]]:
    _, pool = history()
    first = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=6, unique=True))
    mode = draw(st.sampled_from(["zombie replays the same", "overlap", "different"]))
    if mode == "zombie replays the same":
        second = first[: draw(st.integers(1, len(first)))]
    elif mode == "overlap":
        rest = [raw for raw in pool if raw not in first]
        second = [first[0], *draw(st.lists(st.sampled_from(rest), max_size=3, unique=True))]
    else:
        rest = [raw for raw in pool if raw not in first]
        second = draw(st.lists(st.sampled_from(rest), min_size=1, max_size=4, unique=True))
    return first, second


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_writers_on_one_account_never_both_succeed(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = request.getfixturevalue("postgres_server") if kind == "postgres" else None
    examples = (100 if LONG else 30) if kind == "sqlite" else (30 if LONG else 10)

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(chosen=batches())
    def check(chosen: tuple[list[bytes], list[bytes]]) -> None:
        name = uuid.uuid4().hex[:12]
        store = server.create_database(f"race_{name}") if server else str(tmp_path / f"{name}.db")
        work = tmp_path / name
        work.mkdir()
        (work / "none.jsonl").touch()  # every event is accepted or a duplicate: no dead letter
        check_race(store, str(work / "reference.db"), *chosen, work)

    check()
