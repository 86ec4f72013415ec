"""The benchmark's input: a seeded synthetic portfolio, cut at N events, as JSONL.

The file is written once per run (streamed, so generating a million events
stays memory-lean) and every row reads the same bytes, so each row ingests
identical input. A file already made with the same arguments is reused.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from adapters.files.jsonl import read_lines, whole_lines
from adapters.synthetic.portfolio import Portfolio

ENOUGH_DAYS = 100_000  # the portfolio is cut at N events long before this


@dataclass
class Workload:
    path: Path
    events: int
    accounts: int
    seed: int
    days: int = 0
    size_bytes: int = 0
    by_type: dict[str, int] = field(default_factory=dict)

    def lines(self, limit: int | None = None) -> Iterator[bytes]:
        """The workload's messages in order, read lazily from the file."""
        for index, line in enumerate(whole_lines(read_lines(str(self.path)), Counter())):
            if limit is not None and index >= limit:
                return
            yield line

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def workload_path(folder: Path, events: int, accounts: int, seed: int) -> Path:
    return folder / f"workload-{events}e-{accounts}a-s{seed}.jsonl"


def prepare(folder: Path, events: int, accounts: int, seed: int) -> Workload:
    """Write (or reuse) the workload file and describe its mix of event types."""
    folder.mkdir(parents=True, exist_ok=True)
    path = workload_path(folder, events, accounts, seed)
    summary = path.with_suffix(".summary.json")
    if path.exists() and summary.exists():
        try:
            return Workload(path=path, **orjson.loads(summary.read_bytes()))
        except (TypeError, ValueError):
            pass  # a summary of another format: make the file again
    workload = Workload(path, events, accounts, seed)
    counts: Counter[str] = Counter()
    partial = path.with_suffix(".partial")
    written = 0
    with partial.open("wb") as out:
        for day in Portfolio(accounts, ENOUGH_DAYS, seed).days_of_events():
            workload.days += 1
            for event in day[: events - written]:
                line = orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
                out.write(line)
                workload.size_bytes += len(line)
                counts[event["type"]] += 1
            written = min(events, written + len(day))
            if written >= events:
                break
    os.replace(partial, path)
    workload.by_type = dict(counts.most_common())
    fields = workload.describe()
    del fields["path"]
    summary.write_bytes(orjson.dumps(fields))
    return workload
