"""The bench report as a terminal table and as docs/benchmarks.md.

Both print only what the report holds: no figure appears in the docs that
the command did not measure and print.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

Report = dict[str, Any]


def _rate(row: dict[str, Any]) -> str:
    if row.get("status") != "measured":
        return "-"
    value = row.get("events_per_second")
    return f"{value:,.0f}" if value is not None else "-"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def row_note(row: dict[str, Any]) -> str:
    """What a row's figure means, or why it has none."""
    if row.get("status") != "measured":
        return str(row.get("reason"))
    name = row["row"]
    if name.endswith(".engine"):
        outcomes = row.get("outcomes", {})
        return (
            f"{outcomes.get('accepted', 0):,} accepted, {outcomes.get('rejected', 0):,} rejected, "
            f"{row.get('commands', 0):,} commands; batch {row.get('batch_size')}, cache {row.get('cache_size'):,}"
        )
    if name.endswith(".naive"):
        covered = "all" if row["events"] == row.get("sample_events") else f"{row['events']:,} of"
        note = (
            f"{covered} {row.get('sample_events', 0):,} events of one account in {row.get('sample')} "
            f"(and every DayClosed), {row.get('budget_seconds'):g} s budget"
        )
        if "engine_over_naive" in row:
            note += f"; the engine row is {row['engine_over_naive']}x faster"
        return note
    if name == "rebuild.projections":
        return f"events are stored notifications; read models: {', '.join(row.get('projections', []))}"
    if name == "projections.lag":
        return (
            f"commit to read models applied, per batch of {row.get('batch_size')} events: p50 {row.get('p50_ms')} ms, "
            f"p95 {row.get('p95_ms')} ms, max {row.get('max_ms')} ms over {row.get('batches', 0):,} batches; "
            f"the events of one account in {row.get('sample')} (and every DayClosed), ingested and followed in one "
            "process; events/s is the ingest's with the follower running"
        )
    if name == "audit.replay":
        return (
            f"{row.get('accounts', 0):,} accounts, all {row.get('identical', 0):,} identical; "
            f"{row.get('jobs')} processes, peak RSS of the largest"
        )
    if name == "kafka.bare":
        return (
            f"all {row['events']:,} records of the sample topic, orjson-decoded, in one consumer group member with "
            f"the worker's consumer settings (max_poll_records {row.get('max_poll_records')}); timed from the first "
            "record received"
        )
    if name.startswith("kafka.engine."):
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
        return note
    if name == "peer.quixstreams":
        note = (
            f"quixstreams {row.get('quixstreams')}: {row.get('locks_emitted', 0):,} LockCard-like messages; last "
            f"record processed at {row.get('last_record_seconds', 0):.1f} s, then its final checkpoint and shutdown"
        )
        if "engine_over_peer" in row:
            note += f"; fengkong with 1 worker runs at {row['engine_over_peer']:.0%} of its rate"
        return note
    if name == "latency":
        return (
            f"p50 {row.get('p50_ms'):,} ms, p95 {row.get('p95_ms'):,} ms, p99 {row.get('p99_ms'):,} ms, max "
            f"{row.get('max_ms'):,} ms over {row.get('measured_commands', 0):,} commands (causes sent in the first "
            f"{row.get('warmup_s'):g} s not counted); {row.get('offered_rate'):,.0f} events/s offered, "
            f"{row.get('events_per_second'):,.0f} achieved; the last command arrived "
            f"{row.get('last_command_after_last_event_s', 0):,.2f} s after the last event was sent; p99 "
            f"{row.get('account_event_p99_ms')} ms over the {row.get('account_event_commands', 0):,} commands caused "
            f"by account events (the rest by a DayClosed's fan-out); 1 worker + relay on {row.get('store')}, "
            f"{row.get('batches', 0):,} transactions"
        )
    if name == "memory":
        samples = ", ".join(f"{done:,}: {rss:,.0f}" for done, rss in row.get("rss_samples", []))
        return (
            f"RSS MiB by events done: {samples}; growth over the second half "
            f"{row.get('rss_growth_second_half_mib')} MiB; cache {row.get('cache_size'):,} accounts"
        )
    return ""


def _kafka_paragraph(k: dict[str, Any]) -> list[str]:
    """How the Kafka rows' sample was made and published, when they ran."""
    if not k.get("records"):
        return []
    mix = ", ".join(f"{kind} {count:,}" for kind, count in (k.get("by_type") or {}).items())
    offered = round(k["latency_rate"] * k["latency_seconds"])
    return [
        f"The Kafka rows take a sample: {k['events']:,} events over {k['accounts']:,} accounts from the same "
        f"generator and seed (accounts scaled with the events, so the mix of types and the {k.get('days')} simulated "
        f"days stay the workload's: {mix}). It is published once, before any row is timed, to a topic of "
        f"{k['partitions']} partitions on a {k['broker']} Kafka broker on this machine ({k['publish_seconds']:g} s): "
        f"{k['records']:,} records, account events keyed by `account_id` and each DayClosed as one copy per "
        "partition, as the clock relay writes them. Every Kafka rate counts those records, timed from the first "
        "record a consumer received (a group's join is not counted). The latency row publishes the sample's first "
        f"{offered:,} events to fresh topics at {k['latency_rate']:,.0f} events/s while one worker and the relay "
        "run.",
        "",
    ]


def _goal_value(goal: dict[str, Any]) -> str:
    if goal["value"] is None:
        return "-"
    return f"{goal['value']:,}"


def _goal_met(goal: dict[str, Any]) -> str:
    if goal["met"] is None:
        reason = str(goal["reason"])
        return reason if reason.startswith("not measured") else f"not measured ({reason})"
    return "met" if goal["met"] else "NOT met"


def print_report(report: Report, console: Console) -> None:
    m = report["machine"]
    console.print(
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}; "
        f"load average {m['load_at_start']} at the start, {report['load_at_end']} at the end",
        highlight=False,
    )
    table = Table("section", "row", "events/s", "events", "seconds", "peak RSS MiB", title="python -m benchmarks")
    notes: list[str] = []
    for row in report["rows"]:
        measured = row.get("status") == "measured"
        table.add_row(
            row["section"],
            row["row"],
            _rate(row),
            f"{row['events']:,}" if measured and "events" in row else "-",
            f"{row['seconds']:.1f}" if measured and "seconds" in row else "-",
            _mib(row.get("peak_rss_mib")),
        )
        notes.append(f"[bold]{row['row']}[/bold] ({row['title']}): {row_note(row)}")
    console.print(table)
    for note in notes:
        console.print(note, highlight=False)
    goals = Table("goal", "target", "value", "result", title="goals")
    for goal in report["goals"]:
        goals.add_row(goal["goal"], f"{goal['target']:,g}", _goal_value(goal), _goal_met(goal))
    console.print(goals)


def markdown(report: Report) -> str:
    """docs/benchmarks.md, entirely from the report."""
    m, w, s = report["machine"], report["workload"], report["settings"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by the command below; every figure on this page is one it printed.",
        "Re-run it to refresh the page. Speed is measured here, never asserted in tests.",
        "",
        "```sh",
        report["command"],
        "```",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory_gib']} GiB; {m['os']}",
        f"- Python {m['python']}, SQLite {m['sqlite']}; "
        + ", ".join(f"{name} {ver}" for name, ver in m["packages"].items()),
        f"- load average (1 min) at the start {m['load_at_start']} and at the end {report['load_at_end']}: "
        "the machine may be shared, and every row shares it",
        "",
        "## Workload",
        "",
        f"{w['events']:,} events over {w['accounts']:,} accounts (seed {w['seed']}, {w['days']} simulated days, "
        f"{w['size_bytes'] / 2**20:,.0f} MiB of JSONL): "
        + ", ".join(f"{kind} {count:,}" for kind, count in w["by_type"].items())
        + ".",
        "",
        f"Engine batch size {s['batch_size']}, aggregate cache {s['cache_size']:,} accounts. The naive rows take "
        f"the events of one account in {s['naive_sample']} (whole accounts over the whole timeline, so the mix of "
        f"types is the workload's) with a budget of {s['naive_budget_seconds']:g} s; one save per event would "
        "take hours over the whole workload.",
        "",
        *_kafka_paragraph(s.get("kafka") or {}),
        "## Results",
        "",
        "| section | row | events/s | events | seconds | peak RSS MiB | note |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for row in report["rows"]:
        measured = row.get("status") == "measured"
        lines.append(
            "| "
            + " | ".join(
                [
                    row["section"],
                    f"`{row['row']}` {row['title']}",
                    _rate(row),
                    f"{row['events']:,}" if measured and "events" in row else "-",
                    f"{row['seconds']:.1f}" if measured and "seconds" in row else "-",
                    _mib(row.get("peak_rss_mib")),
                    row_note(row).replace("|", "/"),
                ]
            )
            + " |"
        )
    lines += ["", "## Goals", "", "| goal | target | value | result |", "|---|---:|---:|---|"]
    for goal in report["goals"]:
        lines.append(f"| {goal['goal']} | {goal['target']:,g} | {_goal_value(goal)} | {_goal_met(goal)} |")
    lines += [
        "",
        "## What each row does per event",
        "",
        "- **engine** (`RiskEngine.process`, as `fengkong ingest` drives it): validates the event against the "
        "contract, deduplicates it by `event_id` against `fengkong_inbound`, applies it to the account (cached, "
        "at most the cache size in memory), decides under the policy, and writes the recorded fact, every "
        "decision, the inbound index row and the agenda in one transaction per batch.",
        "- **naive** (`benchmarks/naive.py`): the same parsing, the same aggregate and the same decisions, "
        "but the account is loaded from the store for every event (eventsourcing's repository, no cache) and "
        "saved with its own `Application.save()`, one transaction per event; it keeps no deduplication index "
        "and no source offsets, so it does less than the engine per event.",
        "- **projection rebuild** (`benchmarks/readmodels.py`, `measure_rebuild`): drops every read model "
        "and rebuilds it from the notification log of the store the SQLite engine row wrote; events/s counts "
        "stored notifications (facts, decisions, account starts, closed days).",
        "- **live lag** (`benchmarks/readmodels.py`, `measure_live_lag`): the engine ingests the naive rows' "
        "sample in small batches into a fresh SQLite store while `ProjectionRunner.follow` (as `fengkong projections "
        "follow` and `fengkong serve` run it) polls the notification log in a thread, every 50 ms when idle (their "
        "default is 0.2 s, `--poll`); each batch's lag is the time "
        "from its commit until every read model has applied it.",
        "- **audit replay** (`fengkong audit --all`): re-applies every recorded fact to a fresh ledger under "
        "the recorded policy version and compares every decision, command ids included, with one process per "
        "core; events/s counts facts.",
        "- **bare consumer** (`kafka.bare`): a kafka-python consumer group member that reads every record of the "
        "sample topic and decodes its value with orjson, nothing else: the ceiling of the worker's own client.",
        "- **Kafka end-to-end** (`kafka.engine.*`): `benchmarks.kafka_worker` processes run the loop of "
        "`fengkong worker` (`adapters/kafka/worker.py`, its default settings) in one consumer group, and `fengkong "
        "relay` runs beside them: per record the worker routes it (a DayClosed copy reaches its partition's "
        "accounts only), the engine does everything the ingest row does, and each partition's next offset is saved "
        "in the same transaction (a poll's partitions share one transaction, up to 2,000 records); the relay "
        "reads the recorded decisions (the outbox) and publishes each command to the commands topic, "
        "acknowledged before its position is recorded. The clock stops when every offset is "
        "recorded and the relay has published the whole outbox.",
        "- **peer** (`benchmarks/peer.py`, Quix Streams on confluent-kafka/librdkafka): deserialises each "
        "record; for OverdueReported and RepaymentReceived only, keeps per account key the bills last reported "
        "overdue and a `locked` flag in its state store (RocksDB, with a changelog topic), emits one LockCard-like "
        "message when the overdue total reaches 1.00 and resets the flag when it is paid off. No contract "
        "validation, no deduplication by `event_id`, one rule of the policy's many, no recorded decisions and no "
        "audit trail: much less per event than the engine, which is why it is the peer and not the baseline.",
        "- **latency**: a producer sends the events at the offered rate (noting each event's send time); a consumer "
        "of the commands topic notes when each command arrives; each command's latency is its arrival minus the "
        "send time of the event that caused it (`cause_event_id`), over the commands whose cause was sent after the "
        "warm-up. The producer, the consumer, the worker, the relay and the broker share this machine's cores.",
        "- **memory**: the kernel's peak resident set size (VmHWM) of each row's own process; every row runs "
        "in a fresh process on the same workload file. The engine's memory is bounded by its aggregate cache "
        "(`--cache-size` accounts, least recently used evicted) times the size of an account, which grows with "
        "the account's own history; an account that is not cached is loaded from the store, with one query "
        "per batch for all of the batch's uncached accounts.",
        "",
    ]
    return "\n".join(lines)
