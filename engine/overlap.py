"""Deciding the next batch while the last one commits: the engine's CPU beside the database server's work.

A PostgreSQL commit waits on the server (its inserts, index updates, the WAL
flush): in a sequential ingest that is a quarter of the wall time, one core
idle while the other works. Here batch N commits on a thread while batch N+1
is prepared; N+1 commits once N has landed, so commits keep their order.

What N+1 reads before N has landed, and why its outcome is still the sequential one:

- deduplication: N's event ids and digests are laid over the store's (`RiskEngine.known_digests`);
- accounts: those N touched or opened are lent as N leaves them (`RiskEngine.account`, `preload`), from
  the cache or not (a small cache may have evicted them); any other account is the same in the store
  before N as after it;
- the brake: N+1's verdicts are judged against the record before N; its commit judges them again under
  the record's lock, and a verdict that moved fails the commit (`Batch.hand_off`) rather than
  preparing the batch again there, on the committing thread, while the cache is in use;
- an account's history (retractions), the agenda (a DayClosed), the clock and the documents are read
  only once N has landed (`RiskEngine.wait_for_commit`).

A commit that fails (another writer first, a moved verdict, the store down): the cache is dropped and the
failed batch and the one prepared on top of it go again one after the other (`RiskEngine.process_parsed`),
so every outcome is the sequential path's, and a store that stays down raises as it does there.

On SQLite the commit is mostly CPU in this process, which the preparation needs too: measured, overlapping
gains nothing there (docs/scale.md), so `fengkong ingest` overlaps on PostgreSQL only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

from engine.application import PreparedBatch, RiskEngine
from engine.batch import Result
from events.inbound import InvalidEvent, ParsedEvent

K = TypeVar("K")
Items = Sequence[ParsedEvent | InvalidEvent]


class CommitFailed(Exception):
    """The batch committing beside this preparation did not land: the preparation stands on its unsaved changes."""


class _Flight(Generic[K]):
    """One prepared batch committing on its own thread (the engine's `in_flight` meanwhile)."""

    def __init__(self, engine: RiskEngine, key: K, items: Items, prepared: PreparedBatch) -> None:
        self.engine, self.key, self.items, self.prepared = engine, key, items, prepared
        self.inbound = dict(prepared.batch.inbound)
        self.accounts = {**prepared.batch.new_accounts, **prepared.batch.touched}
        self.error: BaseException | None = None
        prepared.batch.hand_off()  # the next preparation changes the accounts this one lends
        self.thread = threading.Thread(target=self._commit, name="fengkong-commit", daemon=True)
        engine.in_flight = self
        self.thread.start()

    def _commit(self) -> None:
        try:
            self.prepared.batch.write(self.prepared.positions)
        except BaseException as error:  # handed to the preparing thread, which goes again in turn
            self.error = error

    def wait(self) -> None:
        if not self.landed():
            raise CommitFailed(str(self.error)) from self.error

    def landed(self) -> bool:
        """Wait for the commit; whether it landed. Either way the engine no longer counts on it."""
        self.thread.join()
        self.engine.in_flight = None
        return self.error is None


def process_overlapped(engine: RiskEngine, batches: Iterable[tuple[K, Items]]) -> Iterator[tuple[K, list[Result]]]:
    """Each batch's results, in order, once it has landed; batch N+1 is prepared while N commits.

    `batches` are (key, parsed items); the key comes back with the results (a caller's lines, say).
    """
    flight: _Flight[K] | None = None
    try:
        for key, items in batches:
            try:
                prepared: PreparedBatch | None = engine.prepare(items)
            except CommitFailed:
                prepared = None
            except BaseException:
                if flight is not None:
                    yield from _landed_or_again(engine, flight)
                engine.forget_cached()  # the preparation that failed left half-applied changes
                raise
            if flight is not None:
                if not flight.landed() or prepared is None:
                    yield from _again(engine, [(flight.key, flight.items), (key, items)])
                    flight = None
                    continue
                yield flight.key, flight.prepared.results
            assert prepared is not None
            for account in prepared.batch.new_accounts.values():
                engine.remember(account)  # the next batch may name them before this one has landed
            flight = _Flight(engine, key, items, prepared)
        if flight is not None:
            yield from _landed_or_again(engine, flight)
    finally:
        if flight is not None:  # joined already, unless the caller stopped early: then no commit goes on unseen
            flight.landed()


def _landed_or_again(engine: RiskEngine, flight: _Flight[K]) -> Iterator[tuple[K, list[Result]]]:
    if flight.landed():
        yield flight.key, flight.prepared.results
    else:
        yield from _again(engine, [(flight.key, flight.items)])


def _again(engine: RiskEngine, batches: list[tuple[K, Items]]) -> Iterator[tuple[K, list[Result]]]:
    """The batches one after the other, on a cache read again from the store: the sequential path."""
    engine.forget_cached()
    for key, items in batches:
        yield key, engine.process_parsed(items)


def process_batches(
    engine: RiskEngine, batches: Iterable[tuple[K, Items]], *, overlap: bool
) -> Iterator[tuple[K, list[Result]]]:
    """Each batch's results once it has landed: overlapped as above, or each prepared and committed in turn."""
    if overlap:
        yield from process_overlapped(engine, batches)
        return
    for key, items in batches:
        yield key, engine.process_parsed(items)
