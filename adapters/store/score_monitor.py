"""The latest population-stability reports of `fengkong score monitor`, for `fengkong status` and `/metrics`.

Monitoring a scorecard reads every account's history again (minutes on a
large store), too slow for a status page or a scrape: `score monitor` runs as
a job (a daily cron, say) and records its report here, `fengkong_score_monitor`
(one row per run: the scorecard, when, up to which date, the report as JSON);
status and metrics show the latest run's last month, with its date, so a
stale report is visible as such. The table is created by the first run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from adapters.store.tables import ProjectionDatabase

MONITOR_TABLE = "fengkong_score_monitor"


class ScoreMonitorStore:
    """The SQL of `fengkong_score_monitor` on one connection of the store's database."""

    def __init__(self, db: ProjectionDatabase) -> None:
        self.db = db

    def prepare(self) -> None:
        with self.db.write():
            self.db.serialize_ddl()
            self.db.execute(
                f"CREATE TABLE IF NOT EXISTS {MONITOR_TABLE} (recorded_at TEXT NOT NULL, scorecard TEXT NOT NULL, "
                "until TEXT NOT NULL, report TEXT NOT NULL)"
            )

    def record(self, report: dict[str, Any], until: str) -> None:
        when = datetime.now(UTC).isoformat(timespec="microseconds")  # two runs in one second still order
        with self.db.write():
            self.db.execute(
                f"INSERT INTO {MONITOR_TABLE} (recorded_at, scorecard, until, report) VALUES (?, ?, ?, ?)",
                [when, report["scorecard"], until, orjson.dumps(report).decode()],
            )

    def latest(self) -> dict[str, Any] | None:
        """The latest run: its report, with `recorded_at` and `until`; None before the first run."""
        if not self.db.has_table(MONITOR_TABLE):
            return None
        found = self.db.query(
            f"SELECT recorded_at, until, report FROM {MONITOR_TABLE} ORDER BY recorded_at DESC LIMIT 1"
        )
        if not found:
            return None
        recorded_at, until, report = found[0]
        body: dict[str, Any] = orjson.loads(report)
        return {"recorded_at": recorded_at, "until": until, **body}


def latest_stability(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """What status shows of a monitor report: its last month's PSI of the score and each attribute, alerts."""
    if report is None:
        return None
    months = report.get("months") or []
    if not months:
        return {"scorecard": report["scorecard"], "recorded_at": report["recorded_at"], "month": None, "alert": None}
    last = months[-1]
    attributes = {name: {"psi": s["psi"], "alert": s["alert"]} for name, s in last["attributes"].items()}
    alerts = [last["score"]["alert"], *(s["alert"] for s in attributes.values())]
    worst = "act" if "act" in alerts else "watch" if "watch" in alerts else "stable"
    return {
        "scorecard": report["scorecard"],
        "recorded_at": report["recorded_at"],
        "until": report["until"],
        "month": last["month"],
        "accounts": last["accounts"],
        "levels": report.get("levels"),
        "score": {"psi": last["score"]["psi"], "alert": last["score"]["alert"]},
        "attributes": attributes,
        "alert": worst,
    }
