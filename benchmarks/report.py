"""The bench report as a terminal table and as docs/benchmarks.md.

Both print only what the report holds: no figure appears in the docs that
the command did not measure and print.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.context import YARDSTICK_LOOPS
from benchmarks.descriptions import ROW_DESCRIPTIONS
from benchmarks.notes import row_note

Report = dict[str, Any]


def _rate(row: dict[str, Any]) -> str:
    if row.get("status") != "measured":
        return "-"
    value = row.get("events_per_second")
    return f"{value:,.0f}" if value is not None else "-"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


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
        f"run; the latency.high row offers the sample at {k.get('latency_high_rate') or 0:,.0f} events/s.",
        "",
    ]


def _small_paragraph(small: dict[str, Any] | None, settings: dict[str, Any]) -> list[str]:
    """The flat rows' smaller workload, and the samples of the scale-out rows."""
    lines = []
    if small:
        lines.append(
            f"The flat rows run the same generator and seed at {small['events']:,} events over {small['accounts']:,} "
            f"accounts ({small['days']} simulated days); each of their rates, like the full workload's, is timed from "
            "the first read to the last commit (no interpreter start, no imports), in inbound events."
        )
    lines.append(
        f"The scale-out rows (split.*) take a sample of {settings.get('split_events', 0):,} events from the same "
        f"generator and seed; the projection rebuild and the audit replay run {settings.get('jobs')} processes "
        "(one per core)."
    )
    return [*lines, ""]


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
        f"load average {m['load_at_start']} at the start, {report['load_at_end']} at the end; "
        f"yardstick {m['yardstick_at_start']} s at the start, {report['yardstick_at_end']} s at the end",
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
        f"- yardstick ({YARDSTICK_LOOPS:,} additions in a plain Python loop, best of 3) {m['yardstick_at_start']} s "
        f"at the start and {report['yardstick_at_end']} s at the end: the machine's speed changes between days "
        "by more than a change to the code does, so compare runs of different days beside their yardsticks, or "
        "run both versions in one session",
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
        *_small_paragraph(report.get("small_workload"), s),
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
    lines += ["", "## What each row does per event", "", *ROW_DESCRIPTIONS, ""]
    return "\n".join(lines)
