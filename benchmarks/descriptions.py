"""What each row of the bench does per event: the closing section of docs/benchmarks.md."""

from __future__ import annotations

ROW_DESCRIPTIONS = (
    "- **floor** (`benchmarks/floor.py`, `python -m benchmarks.floor`): the least a durable, deduplicating ingest "
    "does per event: pydantic validation from the JSON bytes (the contract's models), one dedup lookup per batch, "
    "an in-memory per-account state and one rule (lock on overdue), then one fact row, one dedup row and, when the "
    "rule fires, one decision row, one `executemany` per table and a commit per 2,000 events. SQLite in WAL mode "
    "with `synchronous=FULL`; PostgreSQL with `synchronous_commit=on` and a unique `event_id`; `floor.postgres."
    "locked` also takes `LOCK TABLE ... IN EXCLUSIVE MODE` in every write transaction, as eventsourcing does. The "
    "cyclic garbage collector gets the engine's treatment (paused in a batch, survivors frozen after it). No audit "
    "trail, no balances, no policy versions, no streams read back: the floor under the engine, not a competitor.",
    "- **engine** (`RiskEngine.process`, as `fengkong ingest` drives it): validates the event against the "
    "contract, deduplicates it by `event_id` against `fengkong_inbound`, applies it to the account (cached, "
    "at most the cache size in memory): the ledger checks and applies it, seven rule groups of the policy decide, "
    "and one stored event per fact holds the fact, the balances after it and its decisions; they, the inbound "
    "index rows and the agenda are written in one transaction per batch. On PostgreSQL the row also times how "
    "long each batch held eventsourcing's table lock, from the lock granted to the commit returned (one extra "
    "round trip per batch to see the grant), which caps what one database can record whatever the number of "
    "workers.",
    "- **naive** (`benchmarks/naive.py`): the same parsing, the same aggregate and the same decisions, "
    "but the account is loaded from the store for every event (no cache) and saved in a transaction of its own; "
    "it keeps no deduplication index and no source offsets, so it does less than the engine per event.",
    "- **storage** (`benchmarks/storage.py`): the bytes of the event store the engine row wrote, per inbound event: "
    "`stored_events` and the `fengkong_*` tables with all their indexes (SQLite: a `VACUUM INTO` copy measured "
    "page by page with `dbstat`; PostgreSQL: `pg_total_relation_size` after `VACUUM FULL`), against the bytes of "
    "the JSONL the events came from. The read models (`rm_*`, rebuilt from the store at will) are apart; dead "
    "letters never reach the database.",
    "- **projection rebuild** (`fengkong projections rebuild`): drops every read model and rebuilds it from the "
    "notification log of the store the engine row wrote; the rate counts inbound events (the stored shape decides "
    "how many notifications they make).",
    "- **live lag** (`benchmarks/readmodels.py`, `measure_live_lag`): the engine ingests the naive rows' "
    "sample in small batches into a fresh SQLite store while `ProjectionRunner.follow` (as `fengkong projections "
    "follow` and `fengkong serve` run it) polls the notification log in a thread, every 50 ms when idle (their "
    "default is 0.2 s, `--poll`); each batch's lag is the time from its commit until every read model has "
    "applied it.",
    "- **audit replay** (`fengkong audit --all`): re-applies every recorded fact to a fresh ledger under "
    "the recorded policy version and compares every decision, command ids included, with one process per "
    "core, and proves the emergency brake's ledger again (one pass over the whole log, on one of the processes "
    "beside the accounts); the rate counts inbound events.",
    "- **flat** (`flat.*`): the floor, the ingest, the rebuild and the audit on a workload a tenth the size (same "
    "generator and seed), each measured right after its full-size row so that the machine's drift within a run "
    "does not enter the ratio; the goals compare the full workload's rates with these, and the floor's own pair shows "
    "how much the least durable pipeline slows over the same growth. What grows with the store: random-key "
    "index pages written per batch (the stream index and the deduplication index), the WAL checkpoints that "
    "copy them back, and the cyclic garbage collector's walks over the aggregate cache.",
    "- **bare consumer** (`kafka.bare`): a kafka-python consumer group member that reads every record of the "
    "sample topic and decodes its value with orjson, nothing else: the ceiling of the worker's own client.",
    "- **Kafka end-to-end** (`kafka.engine.*`): `benchmarks.kafka_worker` processes run the loop of "
    "`fengkong worker` (`adapters/kafka/worker.py`, its default settings) in one consumer group, and `fengkong "
    "relay` runs beside them: per record the worker routes it (a DayClosed copy reaches its partition's "
    "accounts only), the engine does everything the ingest row does, and each partition's next offset is saved "
    "in the same transaction (a poll's records share one transaction, up to 2,000); the relay "
    "reads the recorded decisions (the outbox) and publishes each command to the commands topic, "
    "acknowledged before its position is recorded. The clock stops when every offset is "
    "recorded and the relay has published the whole outbox. With 4 workers on 2 cores the processes take turns "
    "on the cores: those rows measure contention, not capacity. On PostgreSQL each worker also times its hold of "
    "the table lock (`benchmarks/pglock.py`): a worker commits batch after batch, so the one-worker row's hold is "
    "the ceiling of a database its peers share (docs/scale.md); the `postgres.engine` row's hold is a bulk "
    "load's, each batch committing beside the next one's preparation.",
    "- **peer** (`benchmarks/peer.py`, Quix Streams on confluent-kafka/librdkafka): deserialises each "
    "record; for OverdueReported and RepaymentReceived only, keeps per account key the bills last reported "
    "overdue and a `locked` flag in its state store (RocksDB, with a changelog topic), emits one LockCard-like "
    "message when the overdue total reaches 1.00 and resets the flag when it is paid off. No contract "
    "validation, no deduplication by `event_id`, one rule of the policy's many, no recorded decisions and no "
    "audit trail: much less per event than the engine, which is why it is the peer and not the baseline.",
    "- **latency**: a producer sends the events at the offered rate (noting each event's send time); a consumer "
    "of the commands topic notes when each command arrives; each command's latency is its arrival minus the "
    "send time of the event that caused it (`cause_event_id`), over the commands whose cause was sent after the "
    "warm-up. Commands caused by an account event and those of a DayClosed's fan-out (a closed day brought to "
    "every account whose review falls due) are reported apart. The producer, the consumer, the worker, the relay "
    "and the broker share this machine's cores. The worker and the relay run traced (`benchmarks/kafka_trace.py`): "
    "each command's time is split into stages that add up to it (publication to the poll that returned its cause, "
    "queued behind parsing, the engine's prepare, the commit, to the relay's page read, sent and acknowledged, to "
    "the consumer), with the CPU time of each transaction and page, every cyclic GC pause and the load average.",
    "- **scale-out** (`benchmarks/split.py`): two engine processes ingest the sample's accounts split into two "
    "partition ranges (murmur2, 4 partitions, as Kafka places them), each bringing a DayClosed to its own "
    "accounts; `shared` writes both ranges to one database, `split` gives each range a database of its own on "
    "the same server. The figures are the rate of both together and how long their batches waited for and held "
    "the table lock (docs/scale.md).",
    "- **memory**: the kernel's peak resident set size (VmHWM) of each row's own process; every row runs "
    "in a fresh process on the same workload file. The engine's memory is bounded by its aggregate cache "
    "(`--cache-size` accounts, least recently used evicted) times the size of an account, which grows with "
    "the account's own history; an account that is not cached is loaded from the store, with one query "
    "per batch for all of the batch's uncached accounts.",
    "- **PostgreSQL** rows run on the server `--postgres` names, or with `auto` on a throwaway PostgreSQL 15 "
    "(`services/throwaway`: `fsync=off`, `synchronous_commit=on`, 128 MB shared buffers), a fresh database per row.",
)
