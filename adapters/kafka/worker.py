"""`fengkong worker`: contract events from `billing.events` into the event store, exactly once in effect.

Kafka delivers at least once, so the worker does not trust Kafka's committed
offsets. Each batch is a run of records of one or more partitions; the engine
saves its events, the dedup rows and each partition's next offset in ONE
transaction.
When a partition is assigned, the worker seeks to the offset the store holds,
so a crash at any instant neither loses an event nor applies one twice; the
offsets it commits to Kafka are a hint for lag monitoring only.

Rejected records go to the dead-letter topic before their batch's transaction.
A DayClosed reaches each partition as a copy (see adapters.kafka.clock) and
fans out only to the accounts keyed onto that partition.

When the broker or the store is unavailable the worker does not exit: it
drops the batch in flight (not recorded), backs off, and seeks every owned
partition back to the offset the store holds (adapters.kafka.retry).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.kafka.batching import Limits, Part, chunks, is_day_closed, parse, transactions
from adapters.kafka.client import (
    ConsumerRebalanceListener,
    CooperativeStickyAssignor,
    KafkaConsumer,
    KafkaError,
    KafkaProducer,
    OffsetAndMetadata,
)
from adapters.kafka.config import (
    CLOCK_PARTITION_HEADER,
    DEAD_LETTER_TOPIC,
    EVENTS_TOPIC,
    WORKER_GROUP,
    GroupTiming,
    header,
)
from adapters.kafka.dead_letters import DeadLetter, DeadLetterTopic, dead_letter
from adapters.kafka.partitioning import accounts_of, partition_for
from adapters.kafka.retry import CLIENT_RECONNECT, Backoff, transient, wait_after_failure
from adapters.monitoring import metrics
from adapters.runtime import faults
from engine.application import ATTEMPTS, DEFAULT_BATCH, BatchConflict, RiskEngine, StoreConflict
from engine.batch import CONTRACT, Outcome, Result
from engine.collector import cyclic_gc_paused
from events.inbound import InvalidEvent, ParsedEvent

log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class WorkerSettings:
    bootstrap_servers: str
    topic: str = EVENTS_TOPIC
    dead_letter_topic: str = DEAD_LETTER_TOPIC
    group_id: str = WORKER_GROUP
    client_id: str = "fengkong-worker"
    # Records per poll and per transaction: larger batches amortise the engine's per-batch work
    # (2,000 instead of 500 measured 30% more events/s in `make bench`); a poll returns what has
    # arrived, so at a low load the batches stay small and latency short.
    max_poll_records: int = DEFAULT_BATCH
    max_batch_bytes: int = 4 * 1024 * 1024
    poll_timeout_ms: int = 500
    timing: GroupTiming = field(default_factory=GroupTiming)
    log_every_s: float = 10.0
    hint_every_s: float = 1.0  # Kafka's committed offsets are only a hint: at a low load, not a request per poll
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    ack_timeout_s: float = 60.0  # dead letters not acknowledged by then: the batch is retried


@dataclass
class WorkerStats:
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    dead_letters: int = 0
    commands: int = 0
    misrouted: int = 0
    rebalances: int = 0
    retries: int = 0

    def add(self, results: Sequence[Result]) -> None:
        for result in results:
            if result.outcome is Outcome.ACCEPTED:
                self.accepted += 1
            elif result.outcome is Outcome.DUPLICATE:
                self.duplicates += 1
            else:
                self.rejected += 1
            self.commands += len(result.commands)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Runs on kafka-python's IO thread: only note what changed; the poll loop acts on it."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def on_partitions_assigned(self, assigned: Sequence[Any]) -> None:
        self.worker.partitions_assigned(assigned)

    def on_partitions_revoked(self, revoked: Sequence[Any]) -> None:
        self.worker.partitions_revoked(revoked)

    def on_partitions_lost(self, lost: Sequence[Any]) -> None:
        self.worker.partitions_revoked(lost)


class Worker:
    """One member of the worker group: poll, apply per partition, dead-letter, record."""

    def __init__(
        self,
        engine: RiskEngine,
        settings: WorkerSettings,
        *,
        consumer: Any = None,
        producer: Any = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.stats = WorkerStats()
        self.consumer = consumer or KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=settings.group_id,
            client_id=settings.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            allow_auto_create_topics=False,
            partition_assignment_strategy=[CooperativeStickyAssignor],
            max_poll_records=settings.max_poll_records,
            fetch_max_bytes=settings.max_batch_bytes,
            max_partition_fetch_bytes=min(settings.max_batch_bytes, 1024 * 1024),
            **settings.timing.consumer_configs(),
            **CLIENT_RECONNECT,
        )
        self.producer = producer or KafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.client_id}-dlq",
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            **CLIENT_RECONNECT,
        )
        self.limits = Limits(settings.max_poll_records, settings.max_batch_bytes)
        self.dead_letters = DeadLetterTopic(self.producer, settings.dead_letter_topic, settings.ack_timeout_s)
        self._lock = threading.Lock()
        self._pending: set[Any] = set()  # assigned, not yet positioned from the store
        self._next: dict[Any, int] = {}  # next offset to apply per owned partition
        self._partitions = 0
        self._last_log = time.monotonic()
        self._last_hint = 0.0
        self._subscribed = False
        self._closed = False
        self.backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)

    # ------------------------------------------------------------ group membership

    def partitions_assigned(self, assigned: Sequence[Any]) -> None:
        with self._lock:
            fresh = [tp for tp in assigned if tp not in self._next]
            self._pending.update(fresh)
            self.stats.rebalances += 1
        if fresh:
            # Hold them until the poll loop has read their positions from the store.
            self.consumer.pause(*fresh)
        log.info("assigned partitions %s", sorted(tp.partition for tp in assigned))

    def partitions_revoked(self, revoked: Sequence[Any]) -> None:
        with self._lock:
            for tp in revoked:
                self._pending.discard(tp)
                self._next.pop(tp, None)
                metrics.forget_partition(tp.topic, tp.partition)
        log.info("revoked partitions %s", sorted(tp.partition for tp in revoked))

    def owned(self) -> list[int]:
        with self._lock:
            return sorted(tp.partition for tp in self._next)

    def _position_pending(self) -> set[Any]:
        """Seek newly assigned partitions to the offsets the store recorded, then let them fetch; returns them.

        A partition stays pending (and paused) until it is positioned: if the store cannot be read,
        or the consumer's assignment does not show it yet, the next poll tries again.
        """
        with self._lock:
            pending = set(self._pending)
        if not pending:
            return set()
        self.engine.forget_cached()  # other workers may have changed these accounts meanwhile
        recorded = self.engine.positions(self.settings.topic)
        assignment = self.consumer.assignment() or set()
        ready = []
        for tp in sorted(pending & assignment):
            offset = recorded.get(tp.partition)
            with self._lock:
                if tp not in self._pending:
                    continue  # revoked meanwhile: no longer ours to position
                self._pending.discard(tp)
                self._next[tp] = offset or 0
            if offset is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
            ready.append(tp)
            if tp.partition >= self._partitions:
                self._partitions = self._partition_count()
        if ready:
            self.consumer.resume(*ready)
            log.info("positioned partitions %s from the store", [tp.partition for tp in ready])
        return set(ready)

    def _partition_count(self) -> int:
        partitions = self.consumer.partitions_for_topic(self.settings.topic)
        if not partitions:
            raise KafkaError(f"topic {self.settings.topic!r} does not exist; create it with `fengkong topics`")
        return len(partitions)

    # ------------------------------------------------------------ the loop

    def start(self) -> None:
        if not self._subscribed:
            self._partitions = self._partition_count()
            self.consumer.subscribe([self.settings.topic], listener=_Rebalance(self))
            self._subscribed = True

    def run(self, stop: threading.Event, until: Callable[[], bool] | None = None) -> WorkerStats:
        """Poll and apply until `stop` is set (SIGTERM) or `until()` holds; then leave the group.

        An unavailable broker or store is waited out (see `recover`); other errors end the run.
        """
        try:
            while not stop.is_set() and not (until and until()):
                try:
                    self.poll_once()
                except transient() as error:
                    self.recover(error, stop)
                else:
                    self.backoff.reset()
        finally:
            self.close()
        return self.stats

    def recover(self, error: BaseException, stop: threading.Event) -> None:
        """After a failed batch: forget its unsaved state, wait, and re-read every offset from the store.

        The batch was not recorded (its transaction failed or never ran), so the owned partitions go
        back to pending: the next poll seeks them to the store's offsets before anything is applied.
        """
        self.stats.retries += 1
        self.engine.forget_cached()
        with self._lock:
            self._pending.update(self._next)
            self._next.clear()
        wait_after_failure("applying a batch", error, self.backoff, stop, log)

    def poll_once(self) -> int:
        """One poll: apply every partition's records, commit the hint. Returns records applied."""
        return self.apply(self.fetch())

    def fetch(self) -> dict[Any, list[Any]]:
        """Poll the group (rebalances happen here) for the next records of the partitions we own."""
        self.start()
        self._position_pending()
        polled: dict[Any, list[Any]] = self.consumer.poll(timeout_ms=self.settings.poll_timeout_ms)
        # Records of a partition positioned just now were fetched before its seek: they are read again from it.
        positioned = self._position_pending()
        return {tp: records for tp, records in polled.items() if tp not in positioned}

    def apply(self, polled: dict[Any, list[Any]]) -> int:
        """Apply fetched records in transactions of one or more partitions, then commit the offsets as a hint."""
        handled = 0
        parts: list[Part] = []
        # Parsing makes a poll's worth of objects: no collection among them (the engine's batches pause it too).
        with cyclic_gc_paused():
            for tp in sorted(polled):
                records = self._owned(tp, polled[tp])
                handled += len(records)
                parsed = [(record, parse(record.value)) for record in records]
                parts += [(tp, chunk) for chunk in chunks(parsed, self.limits)]
            for transaction in transactions(parts, self.limits):
                self._apply(transaction)
        if polled and time.monotonic() - self._last_hint >= self.settings.hint_every_s:
            self._commit_hint()
        self._observe_lag()
        self._maybe_log()
        return handled

    def _observe_lag(self) -> None:
        """Each owned partition's lag from the end offset the last fetch saw (no request to the broker)."""
        with self._lock:
            owned = list(self._next.items())
        for tp, next_offset in owned:
            end = self.consumer.highwater(tp)
            if end is not None:
                metrics.set_consumer_lag(tp.topic, tp.partition, end - next_offset)

    def _commit_hint(self) -> None:
        """Commit the recorded offsets to Kafka for lag monitoring (never used to position)."""
        self._last_hint = time.monotonic()
        with self._lock:
            offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in self._next.items()}
        if offsets:
            self.consumer.commit_async(offsets=offsets)

    def _owned(self, tp: Any, records: Sequence[Any]) -> list[Any]:
        """The records of a partition still ours that the store has not recorded yet."""
        with self._lock:
            expected = self._next.get(tp)
        if expected is None:
            return []  # no longer ours: revoked while these were buffered
        return [r for r in records if r.offset >= expected]

    def _apply(self, parts: list[Part]) -> None:
        """One transaction: the chunks' events, dedup rows and each partition's next offset; dead letters first.

        Letters are acknowledged by the broker before the batch is committed, so a crash may repeat a
        dead letter but never lose one. A conflict with another writer prepares the batch again; each
        record is dead-lettered once whatever the attempts.
        """
        routed: list[DeadLetter] = []
        refused_items: list[ParsedEvent | InvalidEvent] = []
        items: list[ParsedEvent | InvalidEvent] = []
        origin: list[Any] = []
        positions: dict[tuple[str, int], int] = {}
        for tp, chunk in parts:
            for record, parsed in chunk:
                refusal = self._route(tp, record, parsed)
                if refusal is not None:
                    routed.append(dead_letter(record, refusal, "routing" if record.value else CONTRACT))
                    refused_items.append(parsed)
                    continue
                items.append(parsed)
                origin.append(record)
            positions[(tp.topic, tp.partition)] = chunk[-1][0].offset + 1
        refused = len(routed)
        lettered: set[int] = set()  # indexes of items already dead-lettered by an earlier attempt
        day_scope = accounts_of({tp.partition for tp, _ in parts}, self._partitions)
        seconds = 0.0  # prepare and commit, every attempt; not the dead letters' wait for the broker
        for attempt in range(1, ATTEMPTS + 1):
            started = time.perf_counter()
            prepared = self.engine.prepare(items, positions, day_scope=day_scope)
            seconds += time.perf_counter() - started
            letters, routed = routed, []
            for result in prepared.results:
                if result.outcome is Outcome.REJECTED and result.index not in lettered:
                    lettered.add(result.index)
                    record = origin[result.index]
                    letters.append(
                        dead_letter(record, result.reason or "rejected", result.stage, result.event_id, result.sealed)
                    )
            self.dead_letters.publish(letters)
            faults.reached("worker.before_transaction")
            started = time.perf_counter()
            try:
                self.engine.commit(prepared)
                break
            except BatchConflict as conflict:
                seconds += time.perf_counter() - started
                log.warning("batch conflicted with another writer (attempt %d): %s", attempt, conflict)
        else:
            raise StoreConflict(f"batch still conflicted after {ATTEMPTS} attempts")
        faults.reached("worker.after_transaction")
        metrics.observe_batch(items, prepared.results, seconds + time.perf_counter() - started)
        for item in refused_items:
            metrics.count_refused(item)
        with self._lock:
            for tp, chunk in parts:
                if tp in self._next:
                    self._next[tp] = chunk[-1][0].offset + 1
        self.stats.batches += 1
        self.stats.add(prepared.results)
        self.stats.dead_letters += refused + sum(r.outcome is Outcome.REJECTED for r in prepared.results)
        self.stats.rejected += refused

    def _route(self, tp: Any, record: Any, parsed: ParsedEvent | InvalidEvent) -> str | None:
        """Why a record cannot go to the engine from this partition, if it cannot."""
        if not record.value:
            return "event: empty message (no value)"
        if record.key is not None and partition_for(record.key, self._partitions) != tp.partition:
            self.stats.misrouted += 1  # not refused: the producer's partitioner is not Kafka's default
        if is_day_closed(parsed):
            copy_for = header(record.headers, CLOCK_PARTITION_HEADER)
            if copy_for is None:
                return (
                    "DayClosed: publish the platform clock to the clock topic (or one copy per partition "
                    f"with header {CLOCK_PARTITION_HEADER}); a single copy would reach one partition's accounts only"
                )
            if copy_for != str(tp.partition):
                return f"DayClosed: this is the copy for partition {copy_for}, found on partition {tp.partition}"
        return None

    # ------------------------------------------------------------ shutdown and logs

    def close(self) -> None:
        """Commit the hint, leave the group (partitions move at once), flush the producer."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in self._next.items()}
        try:
            if offsets:
                self.consumer.commit(offsets=offsets)
        except KafkaError as error:
            log.warning("could not commit the offset hint on close: %s", error)
        finally:
            self.consumer.close(autocommit=False)
            self.producer.close(timeout=CLOSE_TIMEOUT_S)
        self._log()

    def _maybe_log(self) -> None:
        if time.monotonic() - self._last_log >= self.settings.log_every_s:
            self._log()

    def _log(self) -> None:
        self._last_log = time.monotonic()
        s = self.stats
        log.info(
            "partitions %s: %d batches, %d accepted, %d duplicates, %d rejected, %d dead letters, "
            "%d commands, %d misrouted keys, %d retries",
            self.owned(),
            s.batches,
            s.accepted,
            s.duplicates,
            s.rejected,
            s.dead_letters,
            s.commands,
            s.misrouted,
            s.retries,
        )
