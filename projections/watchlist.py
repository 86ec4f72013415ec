"""watchlist: the accounts early warning put on watch, with the reason and since when (default-v2).

One row per account: its latest watch, from the first signal (`watch.start`)
through the signals seen since (`watch.signal`) and the pre-due reminders sent
(`watch.reminder`), to its end (`watch.end`: the account went overdue, or owes
nothing any more). A row stays after the watch ends, so an analyst sees which
watched accounts went overdue and when: early warning's hit rate.
"""

from __future__ import annotations

from datetime import datetime

from events.rules import Rule
from projections.base import Column, DecisionRecorded, Projection, Recorded, Row, Table, Tables, utc
from projections.base import ColumnType as T

WATCHING, OVERDUE, REPAID = "watching", "overdue", "repaid"

WATCHLIST = Table(
    "watchlist",
    "Accounts on the watch list (status watching) and their latest watch that ended, with reasons and dates.",
    (
        Column("account_id", T.TEXT, "the account"),
        Column("status", T.TEXT, "watching; or how the watch ended: overdue (it went overdue), repaid"),
        Column("since", T.TIMESTAMP, "event time of the signal that put it on the watch list (UTC)"),
        Column(
            "reason", T.TEXT, "that signal: reversed_repayment, partial_payment, open_bills, utilisation, tier_fall"
        ),
        Column("reasons", T.JSON, "every distinct signal seen during the watch, in order"),
        Column("signals", T.INTEGER, "signals seen during the watch, the first included"),
        Column("last_signal_at", T.TIMESTAMP, "event time of the latest signal (UTC)"),
        Column("reminders", T.INTEGER, "pre-due reminders sent during the watch"),
        Column("last_reminder_at", T.TIMESTAMP, "delivery time of the latest reminder (UTC)", nullable=True),
        Column("ended_at", T.TIMESTAMP, "event time the watch ended (UTC)", nullable=True),
        Column("watches", T.INTEGER, "watches the account has had, this one included"),
    ),
    key=("account_id",),
    indexes=(("status", "since"),),
)

_SIGNAL_RULES = {Rule.WATCH_START.value, Rule.WATCH_SIGNAL.value}


class Watchlist(Projection):
    name = "watchlist"
    version = 1
    tables = (WATCHLIST,)
    doc = "Accounts on the early-warning watch list, with reason and since when."
    reads = frozenset({DecisionRecorded})

    def apply(self, event: Recorded, tables: Tables) -> None:
        if not isinstance(event, DecisionRecorded):
            return
        rule = event.decision.rule
        if not rule.startswith("watch."):
            return
        key = (event.account_id,)
        row = tables.get(WATCHLIST, key)
        facts, at = event.decision.facts, utc(event.occurred_at)
        if rule == Rule.WATCH_START:
            row = _started(event.account_id, row, str(facts["signal"]), at)
        elif row is None:
            return  # (a watch always starts with watch.start)
        elif rule == Rule.WATCH_REMINDER:
            command = event.decision.command or {}
            row["reminders"] += 1
            if "deliver_at" in command:
                row["last_reminder_at"] = utc(_time(command["deliver_at"]))
        elif rule == Rule.WATCH_END:
            row["status"] = str(facts.get("reason", OVERDUE))
            row["ended_at"] = at
        if rule in _SIGNAL_RULES and row is not None:
            signal = str(facts["signal"])
            row["signals"] += 1
            row["last_signal_at"] = at
            if signal not in row["reasons"]:
                row["reasons"] = [*row["reasons"], signal]
        tables.put(WATCHLIST, row)


def _started(account_id: str, previous: Row | None, signal: str, at: object) -> Row:
    return {
        "account_id": account_id,
        "status": WATCHING,
        "since": at,
        "reason": signal,
        "reasons": [],
        "signals": 0,
        "last_signal_at": at,
        "reminders": 0,
        "last_reminder_at": None,
        "ended_at": None,
        "watches": 1 if previous is None else previous["watches"] + 1,
    }


def _time(text: object) -> datetime:
    return datetime.fromisoformat(str(text))
