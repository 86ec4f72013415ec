"""Writes the second golden store: stored format 1 as it stands with sealing, the brake and operators, kept forever.

`format-1.db` was written before personal data was sealed and before the
emergency brake and operators' actions existed; this one holds what they
store, recorded through the product's own entry points: the contract
scenario and a small synthetic portfolio, sealed personal values
(customer ids, card refs, phones, free text), an overdue burst the brake
judged and held locks of, an operator releasing one held lock and dropping
another (the rest stay held), an unlock review decided, the clock corrected
by an admin, a notice outcome reported, and one customer forgotten.

`format-1-sealed.master-key` is the store's own master key file (the one the
engine makes beside a SQLite store). It is a TEST key, committed on purpose so
the tests can open the sealed values; it guards nothing real. The forget list
the engine writes beside the store is not kept: the forgotten key is deleted
from the store itself. Run this only to add a golden store of a NEW format
beside this one, never to replace it:

    python -m tests.data.golden.make_sealed
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from adapters import bootstrap
from adapters.access.keys import Principal, Role
from adapters.operators.service import Operators
from adapters.privacy.operations import forget
from adapters.settings import Settings
from adapters.synthetic.portfolio import Portfolio
from tests.builders import Events
from tests.data.golden.make_golden import SCENARIO, fold, write_expected
from tests.support.bursts import Burst, burst_events, portfolio
from tests.support.wiring import open_engine

HERE = Path(__file__).parent
STORE = HERE / "format-1-sealed.db"
EXPECTED = HERE / "format-1-sealed.expected.json"
BURST = Burst(accounts=60, overdue=56, shape="uniform", span_minutes=30, seed=7)  # bound 50: 6 held
FORGOTTEN = "CUSTMARK-FORGOTTEN"
KEPT = "CUSTMARK-KEPT"
OPERATOR = Principal("k-golden-op", "golden-operator", Role.OPERATOR)
ADMIN = Principal("k-golden-admin", "golden-admin", Role.ADMIN)
NOW = datetime(2026, 11, 30, 8, tzinfo=UTC)  # the operators' request time: fixed, so a rerun records the same


def customer(account: str, customer_id: str, phone: str) -> list[bytes]:
    """An account whose opening and free text hold personal values, under review after an overdue bill."""
    e = Events(account)
    events = [
        e.opened("2026-09-01T10:00:00", "5000.00", customer_id=customer_id, card_ref=f"tok_{customer_id}"),
        e.bill("b1", "500.00", "2026-09-10", "2026-09-02T09:00:00"),
        e.pay("p1", "100.00", "2026-09-03T10:00:00"),
        e.make("RepaymentReversed", "2026-09-04T10:00:00", {"payment_id": "p1", "reason": f"{customer_id} disputed"}),
        e.overdue("b1", 1, "500.00", "2026-09-11T10:00:00"),
        e.plan("pl", "2026-09-12T10:00:00", ("2026-10-01", "250.00"), ("2026-11-01", "250.00")),
        e.request("r1", "2026-09-13T10:00:00"),
    ]
    events[0]["data"]["phone"] = phone
    return [orjson.dumps(event) for event in events]


def inputs() -> list[list[bytes]]:
    """The messages, in their batches: the burst in its own, so the brake judges it against the accounts opened."""
    opened = SCENARIO.read_bytes().splitlines() + portfolio(BURST.accounts)
    opened += customer("GOLDA", FORGOTTEN, "+8613900000001") + customer("GOLDB", KEPT, "+8613900000002")
    synthetic = [orjson.dumps(event) for event in Portfolio(20, 120, seed=5, noise=True).events()]
    return [opened, burst_events(BURST)[0], synthetic]


def notice_outcome(command_id: str) -> bytes:
    """The gateway's report on a SendNotice of GOLDB's: a promise to pay."""
    reported = Events("GOLDB-o").outcome(command_id, "promise_to_pay", "2026-09-12T11:00:00", "200.00", "2026-09-20")
    return orjson.dumps({**reported, "account_id": "GOLDB"})


def main() -> None:
    os.environ.pop("FENGKONG_MASTER_KEY", None)  # the store's own key file, made beside it
    for leftover in HERE.glob(f"{STORE.stem}.*"):
        if leftover.suffix != ".py":
            leftover.unlink()
    settings = Settings(store=str(STORE))
    engine = open_engine(str(STORE))
    batches = inputs()
    results = [result for lines in batches for result in engine.ingest(lines, batch_size=500)]
    notice = next(c for c in engine.commands() if c.account_id == "GOLDB" and c.type == "SendNotice")
    results += engine.ingest([notice_outcome(notice.command_id)])
    tables = bootstrap.open_engine_tables(settings)
    operators = Operators(engine, tables, now=lambda: NOW)
    holds = tables.holds()
    operators.release(OPERATOR, [holds[0].hold_id], "billing confirmed")
    operators.drop(OPERATOR, [holds[1].hold_id], "billing fault")
    operators.decide_review(OPERATOR, "GOLDB", approved=True, note=f"{KEPT} called in")
    operators.correct_clock(ADMIN, engine.load_clock().business_date - timedelta(days=1), "closed too far ahead")
    tables.db.close()
    keys, records = bootstrap.open_key_ring(settings), bootstrap.privacy_records(settings)
    forget(keys, records, FORGOTTEN, ADMIN.name, ADMIN.key_id, "PIPL request golden-1")
    keys.close()
    records.close()
    commands = [command.model_dump(mode="json") for command in engine.commands()]
    accounts = engine.account_ids()
    engine.close()
    bootstrap.key_rings(settings).forgotten.require().unlink(missing_ok=True)
    fold(STORE)
    write_expected(
        EXPECTED,
        lines=sum(len(lines) for lines in batches) + 1,
        results=results,
        accounts=len(accounts),
        commands=commands,
    )


if __name__ == "__main__":
    main()
