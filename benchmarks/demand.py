"""The demand side of docs/scale.md: events per account per day, by type and by hour, from a bench workload.

`python -m benchmarks.demand --events 100000 --accounts 10000 --seed 7` reads
(or writes) the bench's workload file and reports, over its last `--days`
complete simulated days (the portfolio has reached its steady state by then:
every account opened and billed), the events per account per day of each
type, of each hour of the day (China Standard Time, as billing stamps them),
and the share of bills that billing ever reports overdue. The capacity plan
multiplies these by the portfolio's size.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from benchmarks.workload import prepare


def demand(lines: Iterable[bytes], accounts: int, days: int) -> dict[str, Any]:
    """Per account per day over the last `days` complete days (the file's last day may be cut: left out)."""
    by_day: dict[str, Counter[str]] = {}
    by_hour: dict[str, Counter[int]] = {}
    billed: dict[str, str] = {}
    overdue: set[str] = set()
    for line in lines:
        event = orjson.loads(line)
        day, hour = event["occurred_at"][:10], int(event["occurred_at"][11:13])
        by_day.setdefault(day, Counter())[event["type"]] += 1
        by_hour.setdefault(day, Counter())[hour] += 1
        if event["type"] == "BillIssued":
            billed[event["data"]["bill_id"]] = day
        elif event["type"] == "OverdueReported":
            overdue.add(event["data"]["bill_id"])
    window = sorted(by_day)[-days - 1 : -1]
    types: Counter[str] = Counter()
    hours: Counter[int] = Counter()
    for day in window:
        types.update(by_day[day])
        hours.update(by_hour[day])
    per = len(window) * accounts
    # Bills old enough to have passed their due date (20 days) and a month of reports inside the file.
    settled = {bill for bill, day in billed.items() if day < window[0]}
    return {
        "days": [window[0], window[-1]],
        "per_account_day": {kind: round(count / per, 5) for kind, count in types.most_common()},
        "total_per_account_day": round(sum(types.values()) / per, 5),
        "by_hour_per_account_day": {hour: round(hours[hour] / per, 5) for hour in sorted(hours)},
        "bills_ever_overdue": round(len(settled & overdue) / len(settled), 4) if settled else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.demand", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=30, help="complete simulated days at the end to average over")
    parser.add_argument("--workdir", type=Path, default=Path(".bench"))
    args = parser.parse_args(argv)
    workload = prepare(args.workdir, args.events, args.accounts, args.seed)
    if workload.days <= args.days + 1:
        print(f"the workload covers {workload.days} days: give --days below that", file=sys.stderr)
        return 2
    result = demand(workload.lines(), args.accounts, args.days)
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
