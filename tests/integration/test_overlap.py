"""Deciding the next batch while the last one commits (engine.overlap) changes speed, never outcomes.

Each test ingests the same events twice, one batch after the other (the
sequential path, `RiskEngine.process_parsed`) and overlapped, and compares
every result and everything recorded: facts, decisions, commands, in order.
The cases are the ones the next batch could get wrong by reading the store
before the last one has landed: an account opened or an event_id recorded in
the batch still committing, the agenda of a DayClosed, an account evicted
from a tiny cache, the emergency brake's count moving between two batches,
and a commit that fails (both batches then go again, one after the other).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.audit.brake import audit_brake_ledger
from adapters.bootstrap import open_engine_tables
from adapters.settings import Settings
from adapters.synthetic.portfolio import Portfolio
from engine.application import RiskEngine, parse_all
from engine.batch import Batch, Outcome, Result
from engine.overlap import process_batches
from events.inbound import InvalidEvent, ParsedEvent
from tests.support.bursts import Burst, burst_events, oracle, portfolio
from tests.support.wiring import open_engine

LONG = os.environ.get("FENGKONG_LONG") == "1"
SEALED = re.compile(r"\\u001fpd1\.[0-9A-Za-z_.-]*\\u001f")
"""A sealed personal value as JSON escapes it: each store seals under its own random keys."""


def _lines(accounts: int = 40, days: int = 120, seed: int = 5, noise: bool = True) -> list[bytes]:
    return [orjson.dumps(event) for event in Portfolio(accounts, days, seed=seed, noise=noise).events()]


def _cut(lines: Sequence[bytes], sizes: Sequence[int]) -> Iterator[list[bytes]]:
    """The lines in batches of the given sizes, the last size repeated."""
    start, turn = 0, 0
    while start < len(lines):
        size = sizes[min(turn, len(sizes) - 1)]
        yield list(lines[start : start + size])
        start, turn = start + size, turn + 1


def _ingest(
    engine: RiskEngine,
    lines: Sequence[bytes],
    sizes: Sequence[int],
    *,
    overlap: bool,
    ended: Callable[[], None] = lambda: None,
) -> list[str]:
    def batches() -> Iterator[tuple[list[bytes], list[ParsedEvent | InvalidEvent]]]:
        for batch in _cut(lines, sizes):
            yield batch, parse_all(batch)
        ended()

    return [_said(result) for _, results in process_batches(engine, batches(), overlap=overlap) for result in results]


def _said(result: Result) -> str:
    commands = ",".join(f"{c.type}:{c.command_id}" for c in result.commands)
    return f"{result.event_id}:{result.outcome.value}:{result.reason}:{','.join(result.rules)}:{commands}"


def _recorded(store: str) -> tuple[dict[str, list[str]], list[dict[str, Any]], list[list[str]], list[str]]:
    """Every account's recorded facts with their decisions (without the wall-clock `at`), every command, the
    agenda (the accounts due by each week of the portfolio's time) and the held locks."""
    engine = open_engine(store)
    try:
        histories = {}
        for account_id, states in engine.recorded_histories(engine.account_ids()):
            texts = []
            for state in states:
                body = {key: value for key, value in state.items() if key != "at"}
                texts.append(SEALED.sub("<sealed>", orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()))
            histories[account_id] = texts
        weeks = [date(2026, 3, 1) + timedelta(days=7 * week) for week in range(40)]
        agenda = [engine.store.select_due_accounts(day) for day in [*weeks, date.max]]
        commands = [command.model_dump(mode="json") for command in engine.commands()]
    finally:
        engine.close()
    tables = open_engine_tables(Settings(store=store))
    held = sorted(hold.account_id for hold in tables.holds())
    tables.db.close()
    return histories, commands, agenda, held


def _widest_overlap(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Each commit on the committing thread waits until the next batch is prepared, or that preparation waits
    for it, or there is no next batch (call the function returned): every run overlaps as widely as it can,
    whatever the machine's speed. Returns what ends the last wait."""
    changed = threading.Condition()
    moves = [0]  # preparations done, waits for a commit, the end of the batches
    prepare, wait_for_commit, write = RiskEngine.prepare, RiskEngine.wait_for_commit, Batch.write

    def moved() -> None:
        with changed:
            moves[0] += 1
            changed.notify_all()

    def prepared(self: RiskEngine, *args: Any, **kwargs: Any) -> Any:
        try:
            return prepare(self, *args, **kwargs)
        finally:
            moved()

    def waiting(self: RiskEngine) -> None:
        moved()
        wait_for_commit(self)

    def held(self: Batch, positions: Any) -> None:
        if threading.current_thread().name == "fengkong-commit":
            with changed:
                seen = moves[0]
                assert changed.wait_for(lambda: moves[0] > seen, timeout=60)
        write(self, positions)

    monkeypatch.setattr(RiskEngine, "prepare", prepared)
    monkeypatch.setattr(RiskEngine, "wait_for_commit", waiting)
    monkeypatch.setattr(Batch, "write", held)
    return moved


def _both_ways(
    store: str,
    tmp_path: Path,
    lines: Sequence[bytes],
    sizes: Sequence[int],
    cache_size: int = 10_000,
    meanwhile: Callable[[], None] = lambda: None,
) -> list[str]:
    """Sequential into a SQLite file, then (after `meanwhile`) overlapped as widely as it can into `store`: both
    compared."""
    sequential = open_engine(str(tmp_path / "sequential.db"), cache_size=cache_size)
    expected = _ingest(sequential, lines, sizes, overlap=False)
    sequential.close()
    meanwhile()
    with pytest.MonkeyPatch.context() as patch:
        ended = _widest_overlap(patch)
        engine = open_engine(store, cache_size=cache_size)
        assert _ingest(engine, lines, sizes, overlap=True, ended=ended) == expected
        engine.close()
    assert _recorded(store) == _recorded(str(tmp_path / "sequential.db"))
    return expected


def _counting_again(monkeypatch: pytest.MonkeyPatch, calls: list[int]) -> None:
    """Count in `calls` each batch that went again in turn (the overlapped path's fallback calls process_parsed)."""
    sequential = RiskEngine.process_parsed

    def counted(self: RiskEngine, *args: Any, **kwargs: Any) -> list[Result]:
        calls.append(1)
        return sequential(self, *args, **kwargs)

    monkeypatch.setattr(RiskEngine, "process_parsed", counted)


def test_overlapped_records_what_the_sequential_path_records(store: str, tmp_path: Path) -> None:
    lines = _lines()
    results = _both_ways(store, tmp_path, lines, [7])
    assert any("LockCard:" in said for said in results)  # the policy's locks are reached
    assert sum(":duplicate:" in said for said in results) > 0  # the noise repeats events across batches


def test_the_batch_committing_lends_its_accounts_whatever_the_cache_evicted(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    again: list[int] = []
    _both_ways(store, tmp_path, _lines(), [7], cache_size=3, meanwhile=lambda: _counting_again(monkeypatch, again))
    assert again == []  # read from the store, an account opened in the batch committing would be unknown


def test_an_event_repeated_in_the_next_batch_is_a_duplicate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [line for line in _lines(4, 20, noise=False) if b'"DayClosed"' not in line]  # account events only
    repeated = [*lines[:5], lines[2], lines[4], *lines[5:]]
    again: list[int] = []
    store = str(tmp_path / "overlapped.db")
    results = _both_ways(store, tmp_path, repeated, [5], meanwhile=lambda: _counting_again(monkeypatch, again))
    assert [said.split(":")[1] for said in results[5:7]] == [Outcome.DUPLICATE.value] * 2
    assert again == []  # known from the batch committing, not from its commit failing on the event_id


@settings(
    max_examples=60 if LONG else 15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    repeats=st.lists(st.integers(0, 10_000), max_size=12),
    cache_size=st.sampled_from([2, 5, 10_000]),
    seed=st.integers(0, 2**16),
)
def test_any_cut_any_repeats_any_cache_gives_the_sequential_outcome(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], repeats: list[int], cache_size: int, seed: int
) -> None:
    lines = _lines(8, 40, seed)
    for at in repeats:  # an event again a little later: in the same batch, the next one, or further on
        source = at % len(lines)
        lines.insert(min(len(lines), source + 1 + at % 9), lines[source])
    folder = tmp_path_factory.mktemp("cut")
    _both_ways(str(folder / "overlapped.db"), folder, lines, sizes, cache_size)


def _failing_writes(monkeypatch: pytest.MonkeyPatch, fails: Callable[[int], bool]) -> Callable[[], None]:
    """What makes Batch.write raise a store error, before writing, on the calls `fails` picks (from 1)."""
    write = Batch.write
    calls = [0]

    def flaky(self: Batch, positions: Any) -> None:
        calls[0] += 1
        if fails(calls[0]):
            raise ConnectionError("the store went away")
        write(self, positions)

    return lambda: monkeypatch.setattr(Batch, "write", flaky)


def test_a_commit_that_fails_once_goes_again_with_the_same_outcome(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = _failing_writes(monkeypatch, lambda call: call in (3, 9))
    again: list[int] = []

    def meanwhile() -> None:
        failing()
        _counting_again(monkeypatch, again)

    _both_ways(store, tmp_path, _lines(12, 60), [11], meanwhile=meanwhile)
    assert len(again) == 4  # each failed batch, and the one prepared on top of it


def test_a_store_that_stays_down_stops_the_run_after_the_last_landed_batch(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _lines(12, 60)
    _failing_writes(monkeypatch, lambda call: call >= 4)()
    engine = open_engine(store)
    landed: list[list[Result]] = []
    batches = ((batch, parse_all(batch)) for batch in _cut(lines, [11]))
    with pytest.raises(ConnectionError):
        for _, results in process_batches(engine, batches, overlap=True):
            landed.append(results)
    engine.close()
    assert len(landed) == 3  # the three batches that landed were reported, nothing after them
    monkeypatch.undo()
    restarted = open_engine(store)
    again = _ingest(restarted, lines, [11], overlap=True)
    restarted.close()
    assert {said.split(":")[1] for said in again[:33]} <= {Outcome.DUPLICATE.value, Outcome.REJECTED.value}
    clean = open_engine(str(tmp_path / "clean.db"))
    _ingest(clean, lines, [11], overlap=False)
    clean.close()
    assert _recorded(store) == _recorded(str(tmp_path / "clean.db"))


def test_the_brake_holds_exactly_the_locks_beyond_its_bound_when_batches_overlap(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    burst = Burst(accounts=2600, overdue=80, shape="uniform", span_minutes=30, seed=3)  # bound 52: 28 held
    messages, locks = burst_events(burst)
    lines = [*portfolio(burst.accounts), *messages]
    again: list[int] = []
    results = _both_ways(
        store, tmp_path, lines, [2000, 2000, 97], meanwhile=lambda: _counting_again(monkeypatch, again)
    )
    assert again  # a batch judged against the count before the bound was crossed failed its commit, went again
    assert sum(said.count("LockCard:") for said in results) == burst.bound
    proof = audit_brake_ledger(Settings(store=store))
    assert proof.identical and proof.held == len(oracle(locks, burst.bound)) == 28
