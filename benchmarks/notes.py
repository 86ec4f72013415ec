"""One sentence per row of the bench report: what its figure means, or why it has none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Row = dict[str, Any]


def _cpu(row: Row) -> str:
    value = row.get("events_per_cpu_second")
    return f"; {value:,.0f} events per CPU second of its process" if value else ""


def _lock(lock: dict[str, Any] | None, what: str) -> str:
    if not lock:
        return ""
    return (
        f"; {what} held the table lock p50 {lock['p50_ms']} ms, p95 {lock['p95_ms']} ms, max {lock['max_ms']} ms per "
        f"batch of {lock['events_per_batch_p50']:,.0f} events ({lock['held_share']:.0%} of the run): one database "
        f"records at most {lock['ceiling_events_per_second']:,.0f} events/s whatever the number of writers"
    )


def _floor(row: Row) -> str:
    note = (
        f"{row.get('accepted', 0):,} accepted, {row.get('decisions', 0):,} decision rows (the lock rule), "
        f"batch {row.get('batch_size')}{_cpu(row)}"
    )
    if "lock_held_ms" in row:
        held = row["lock_held_ms"]
        note += (
            f"; the lock held p50 {held['p50']} ms, p95 {held['p95']} ms, max {held['max']} ms per batch: a ceiling of "
            f"{row.get('ceiling_events_per_second', 0):,.0f} events/s for one database"
        )
    if "full_over_small" in row:
        note += f"; the full workload's rate is {row['full_over_small']:.0%} of this one's"
    return note


def _engine(row: Row) -> str:
    outcomes = row.get("outcomes", {})
    note = (
        f"{outcomes.get('accepted', 0):,} accepted, {outcomes.get('rejected', 0):,} rejected, "
        f"{row.get('commands', 0):,} commands; batch {row.get('batch_size')}, cache {row.get('cache_size'):,}"
        f"{_cpu(row)}"
    )
    if "share_of_floor" in row:
        note += f"; {row['share_of_floor']:.0%} of its floor's rate"
    if "share_of_locked_floor" in row:
        note += f" ({row['share_of_locked_floor']:.0%} of the floor that takes the same lock)"
    if "full_over_small" in row:
        note += f"; the full workload's rate is {row['full_over_small']:.0%} of this one's"
    if row.get("overlapped"):
        note += "; each batch decided while the last one commits (engine.overlap)"
    return note + _lock(row.get("lock"), "its batches")


def _naive(row: Row) -> str:
    covered = "all" if row["events"] == row.get("sample_events") else f"{row['events']:,} of"
    note = (
        f"{covered} {row.get('sample_events', 0):,} events of one account in {row.get('sample')} "
        f"(and every DayClosed), {row.get('budget_seconds'):g} s budget"
    )
    if "engine_over_naive" in row:
        note += f"; the engine row is {row['engine_over_naive']}x faster"
    return note


def _storage(row: Row) -> str:
    parts = ", ".join(f"{table} {size:,.0f}" for table, size in row.get("parts_per_event", {}).items())
    input_per_event = row["input_bytes"] / row["inbound_events"] if row.get("inbound_events") else 0
    return (
        f"{row.get('bytes_per_event', 0):,.0f} bytes per inbound event, {row.get('ratio_to_input')}x the input's "
        f"{input_per_event:,.0f} bytes of JSONL ({row.get('event_store_bytes', 0) / 2**20:,.1f} MiB for "
        f"{row.get('inbound_events', 0):,} events): {parts}; the read models apart, "
        f"{row.get('read_models_per_event', 0):,.0f} bytes per event; the events/s column is empty (a size, not a rate)"
    )


def _replay(row: Row) -> str:
    if row["row"].endswith("audit.replay"):
        note = (
            f"{row.get('accounts', 0):,} accounts, all {row.get('identical', 0):,} identical, {row.get('facts', 0):,} "
            f"recorded facts replayed (a DayClosed once per account it reached); the brake's ledger proven beside "
            f"them ({row.get('brake_verdicts', 0):,} verdicts in {row.get('brake_batches', 0):,} batches); "
            f"{row.get('jobs')} processes, peak RSS of the largest"
        )
    else:
        note = (
            f"{row.get('notifications', 0):,} stored notifications read; read models: "
            f"{', '.join(row.get('projections', []))}, in {row.get('jobs')} groups on as many processes"
        )
    note += f"; the rate counts the {row['events']:,} inbound events the store recorded"
    if "full_over_small" in row:
        note += f"; the full workload's rate is {row['full_over_small']:.0%} of this one's"
    return note


def _lag(row: Row) -> str:
    return (
        f"commit to read models applied, per batch of {row.get('batch_size')} events: p50 {row.get('p50_ms')} ms, "
        f"p95 {row.get('p95_ms')} ms, max {row.get('max_ms')} ms over {row.get('batches', 0):,} batches; "
        f"the events of one account in {row.get('sample')} (and every DayClosed), ingested and followed in one "
        "process; events/s is the ingest's with the follower running"
    )


def _bare(row: Row) -> str:
    return (
        f"all {row['events']:,} records of the sample topic, orjson-decoded, in one consumer group member with "
        f"the worker's consumer settings (max_poll_records {row.get('max_poll_records')}); timed from the first "
        "record received"
    )


def _kafka(row: Row) -> str:
    workers = row.get("workers")
    note = (
        f"{row.get('store')}, {workers} worker process{'es' if workers != 1 else ''} + `fengkong relay`: "
        f"{row.get('accepted', 0):,} accepted, {row.get('rejected', 0):,} rejected, {row.get('commands', 0):,} "
        f"commands, {row.get('commands_published', 0):,} on the commands topic; every offset recorded at "
        f"{row.get('recorded_seconds', 0):.1f} s, every command published at {row.get('seconds', 0):.1f} s; "
        f"{row.get('batches', 0):,} transactions"
    )
    if "share_of_bare" in row:
        note += f"; {row['share_of_bare']:.0%} of the bare consumer's rate"
    if workers and workers > 2:
        note += (
            f"; {workers} workers, the relay, the broker (and the database server) share 2 cores: "
            "this row shows the contention, not more capacity"
        )
    locks = row.get("locks") or []
    if len(locks) == 1:  # a worker commits in turn: its hold is what caps a database its peers share
        note += _lock(locks[0], "its transactions")
    elif locks:
        note += "; the workers held the table lock p50 " + " / ".join(f"{lock['p50_ms']}" for lock in locks) + " ms"
    return note


def _peer(row: Row) -> str:
    note = (
        f"quixstreams {row.get('quixstreams')}: {row.get('locks_emitted', 0):,} LockCard-like messages; last "
        f"record processed at {row.get('last_record_seconds', 0):.1f} s, then its final checkpoint and shutdown"
    )
    if "engine_over_peer" in row:
        note += f"; fengkong with 1 worker runs at {row['engine_over_peer']:.0%} of its rate"
    return note


def _latency(row: Row) -> str:
    stages = row.get("stages") or {}
    where = (
        f"; publication to fact recorded p50 {stages['to_recorded_p50_ms']} ms, p99 {stages['to_recorded_p99_ms']} ms "
        f"(poll, batch), then to the command's arrival p50 {stages['recorded_to_arrival_p50_ms']} ms, p99 "
        f"{stages['recorded_to_arrival_p99_ms']} ms (commit, relay, broker, consumer)"
        if stages
        else ""
    )
    return (
        f"account events: p99 {row.get('account_event_p99_ms')} ms over {row.get('account_event_commands', 0):,} "
        f"commands (p50 {row.get('account_event_p50_ms')} ms); a DayClosed's fan-out apart: p99 "
        f"{row.get('day_p99_ms')} ms over {row.get('day_commands', 0):,} commands; all: p50 {row.get('p50_ms'):,} ms, "
        f"p95 {row.get('p95_ms'):,} ms, p99 {row.get('p99_ms'):,} ms, max {row.get('max_ms'):,} ms (causes sent in "
        f"the first {row.get('warmup_s'):g} s not counted); {row.get('offered_rate'):,.0f} events/s offered, "
        f"{row.get('events_per_second'):,.0f} achieved, the last command arrived "
        f"{row.get('last_command_after_last_event_s', 0):,.2f} s after the last event was sent; 1 worker + relay on "
        f"{row.get('store')}, {row.get('batches', 0):,} transactions{where}{_latency_breakdown(row)}"
    )


def _latency_breakdown(row: Row) -> str:
    """The traced stages (benchmarks.kafka_trace) of the account events' commands, p50/p99 ms, and CPU."""
    found = row.get("breakdown") or {}
    stages = found.get("stages_ms")
    if not stages:
        return ""
    parts = ", ".join(f"{name} {v['p50']}/{v['p99']}" for name, v in stages.items() if name != "total")
    fit = (found.get("transactions") or {}).get("cpu_fit") or {}
    events = found.get("worker_events") or 0
    per_event = {who: 1e6 * (found.get(f"{who}_cpu_s") or 0.0) / max(events, 1) for who in ("worker", "relay")}
    cpu = (
        f"; worker CPU {per_event['worker']:,.0f} µs per event (prepare+commit {fit.get('per_event_us')} µs per "
        f"event + {fit.get('fixed_ms')} ms per transaction), relay {per_event['relay']:,.0f} µs"
        if per_event["worker"]
        else ""
    )
    gcs = ", ".join(
        f"{who} {found[key]['collections']} collections, longest {found[key]['max_ms']} ms"
        for who, key in (("worker", "worker_gc"), ("relay", "relay_gc"), ("measuring process", "row_gc"))
        if found.get(key)
    )
    load = found.get("load_average") or []
    return f"; traced stages, p50/p99 ms: {parts}{cpu}; GC: {gcs}" + (
        f"; load average at the end {load[0]}" if load else ""
    )


def _split(row: Row) -> str:
    engines = row.get("per_engine", [])
    locks = "; ".join(
        f"engine {i + 1} (partitions {e['partitions']}): {e['events'] / (e['ended'] - e['started']):,.0f} events/s, "
        f"lock p50 {e['lock'].get('p50_ms')} ms"
        for i, e in enumerate(engines)
        if e.get("lock")
    )
    return (
        f"{row.get('engines')} engine processes, {row.get('databases')} database(s) on one server, "
        f"{row.get('partitions')} partitions in {row.get('engines')} ranges; waiting for the lock p50 "
        f"{row.get('lock_wait_p50_ms')} ms, p95 {row.get('lock_wait_p95_ms')} ms per batch; {locks}"
    )


def _memory(row: Row) -> str:
    samples = ", ".join(f"{done:,}: {rss:,.0f}" for done, rss in row.get("rss_samples", []))
    return (
        f"RSS MiB by events done: {samples}; growth over the second half "
        f"{row.get('rss_growth_second_half_mib')} MiB; cache {row.get('cache_size'):,} accounts"
    )


def _by_name(name: str) -> Callable[[Row], str] | None:
    if name.startswith(("floor.", "flat.floor.")):
        return _floor
    if name.endswith(".engine"):
        return _engine
    if name.endswith(".naive"):
        return _naive
    prefixes: tuple[tuple[str, Callable[[Row], str]], ...] = (
        ("storage.", _storage),
        ("kafka.engine.", _kafka),
        ("latency", _latency),
        ("split.", _split),
    )
    for prefix, note in prefixes:
        if name.startswith(prefix):
            return note
    exact: dict[str, Callable[[Row], str]] = {
        "projections.lag": _lag,
        "kafka.bare": _bare,
        "peer.quixstreams": _peer,
        "memory": _memory,
    }
    if name in exact:
        return exact[name]
    return _replay if name.endswith(("rebuild.projections", "audit.replay")) else None


def row_note(row: Row) -> str:
    """What a row's figure means, or why it has none."""
    if row.get("status") != "measured":
        return str(row.get("reason"))
    note = _by_name(row["row"])
    return note(row) if note else ""
