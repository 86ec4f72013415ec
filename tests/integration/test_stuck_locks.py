"""No stuck locks: an account locked without an active reason is found by reconcile and counted in the metrics.

The case is a real one: billing reports a bill overdue after a payment that
left credit on the account (its figure is authoritative), so the card locks;
the next bill's arrival applies the credit to the overdue bill, which clears
the overdue without a repayment, so no unlock rule fires. The account is
locked with nothing unpaid and no plan: stuck.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner
from fastapi.testclient import TestClient

from adapters.access.keys import Role
from adapters.cli import cli
from tests.builders import Events
from tests.support.wiring import api_at, key_at


def stuck_account_events() -> list[bytes]:
    e, fine = Events("STUCK"), Events("FINE")
    events = [
        e.opened(),
        e.bill("b1", "100.00", "2026-09-01"),
        e.pay("p1", "300.00", "2026-08-20T10:00:00"),  # pays b1, leaves 200.00 of credit
        e.overdue("b1", 1, "100.00", "2026-09-02T10:00:00"),  # billing says b1 is unpaid: the card locks
        e.bill("b2", "100.00", "2026-10-01", at="2026-09-10T09:00:00"),  # the credit pays b1 off: no unlock rule
        fine.opened(),
        fine.bill("b1", "100.00", "2026-09-01"),
        fine.overdue("b1", 1, "100.00", "2026-09-02T10:00:00"),  # locked, and rightly: unpaid
        e.day_closed("2026-09-10"),
    ]
    return [orjson.dumps(event) for event in events]


def test_reconcile_and_the_metrics_find_an_account_locked_without_a_reason(store: str, tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(stuck_account_events()) + b"\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(source), "--store", store]).exit_code == 0
    assert runner.invoke(cli, ["projections", "catch-up", "--store", store]).exit_code == 0
    checked = runner.invoke(cli, ["reconcile", "--input", str(source), "--store", store, "--json"])
    assert checked.exit_code == 1, checked.output
    gaps = orjson.loads(checked.stdout)["gaps"]
    assert list(gaps) == ["stuck_lock"]
    assert [item["ref"] for item in gaps["stuck_lock"]["items"]] == ["STUCK"]
    status = orjson.loads(runner.invoke(cli, ["status", "--store", store, "--json"]).stdout)
    assert status["stuck_locks"]["count"] == 1 and status["stuck_locks"]["accounts"][0]["account_id"] == "STUCK"
    key = key_at(store, Role.METRICS)
    with TestClient(api_at(store)) as client:
        text = client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
    assert "fengkong_stuck_locks 1.0" in text.splitlines()
