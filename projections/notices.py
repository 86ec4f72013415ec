"""notices and notice_rates: what became of every notice, and how well each template and channel works.

`notices` has one row per `SendNotice` command: its template, channel and
delivery time, the outcomes the messaging gateway reported on it
(`NoticeOutcomeReported`, contract 1.1), and the fate of a promise to pay made
in answer to it (open, kept, broken, replaced by a newer promise).
`notice_rates` sums them per template and channel:

- contact rate: notices with at least one outcome showing the customer was
  reached (delivered, read, replied, promise to pay) / notices sent;
- promise rate: notices answered by a promise to pay / notices that reached
  the customer;
- promise-kept rate: promises kept / promises settled (kept or broken; a
  promise a newer one replaced is neither). Promises are settled by the
  policy (default-v2's `promise.kept` / `promise.broken`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from events.inbound import PROMISE_TO_PAY, NoticeOutcomeReported
from events.rules import Rule
from projections.base import Column, DecisionRecorded, FactRecorded, Projection, Recorded, Row, Table, Tables, utc
from projections.base import ColumnType as T

CONTACT = frozenset({"delivered", "read", "replied", PROMISE_TO_PAY})

NOTICES = Table(
    "notices",
    "Every notice sent (SendNotice), the outcomes reported on it and the fate of a promise made in answer.",
    (
        Column("command_id", T.TEXT, "the SendNotice command's id (what an outcome names)"),
        Column("account_id", T.TEXT, "the account"),
        Column("template", T.TEXT, "e.g. overdue_d7, due_reminder, promise_broken"),
        Column("channel", T.TEXT, "sms, app_push or ops"),
        Column("rule", T.TEXT, "the rule that sent it (notice.resend: a failed notice sent again)"),
        Column("deliver_at", T.TIMESTAMP, "its earliest delivery time, after quiet hours (UTC)"),
        Column("outcomes", T.INTEGER, "outcomes reported on it"),
        Column("last_outcome", T.TEXT, "delivered, failed, read, replied or promise_to_pay", nullable=True),
        Column("last_outcome_at", T.TIMESTAMP, "event time of the last outcome (UTC)", nullable=True),
        Column("contacted", T.BOOLEAN, "an outcome showed the customer was reached"),
        Column("failed", T.BOOLEAN, "the gateway reported it failed"),
        Column("promised", T.BOOLEAN, "the customer promised to pay in answer"),
        Column("promise_result", T.TEXT, "open, kept, broken or replaced (by a newer promise)", nullable=True),
    ),
    key=("command_id",),
    indexes=(("account_id",), ("template", "channel")),
)

NOTICE_RATES = Table(
    "notice_rates",
    "Per template and channel: notices sent, contact rate, promise rate and promise-kept rate.",
    (
        Column("template", T.TEXT, "the notice template"),
        Column("channel", T.TEXT, "the channel"),
        Column("sent", T.INTEGER, "notices sent"),
        Column("contacted", T.INTEGER, "of them, those that reached the customer"),
        Column("failed", T.INTEGER, "of them, those reported failed"),
        Column("promised", T.INTEGER, "of them, those answered by a promise to pay"),
        Column("kept", T.INTEGER, "promises made on them and kept"),
        Column("broken", T.INTEGER, "promises made on them and broken"),
        Column("contact_rate", T.RATIO, "contacted / sent", nullable=True),
        Column("promise_rate", T.RATIO, "promised / contacted", nullable=True),
        Column("promise_kept_rate", T.RATIO, "kept / (kept + broken)", nullable=True),
    ),
    key=("template", "channel"),
)

_SETTLED = {Rule.PROMISE_KEPT.value: "kept", Rule.PROMISE_BROKEN.value: "broken"}


class Notices(Projection):
    name = "notices"
    version = 1
    tables = (NOTICES, NOTICE_RATES)
    doc = "Every notice with its outcomes and promise; contact, promise and promise-kept rates."
    reads = frozenset({FactRecorded, DecisionRecorded})
    weight = 3

    def apply(self, event: Recorded, tables: Tables) -> None:
        if isinstance(event, FactRecorded):
            if event.fact_type == "NoticeOutcomeReported":
                fact = event.fact
                assert isinstance(fact, NoticeOutcomeReported)
                self._outcome(fact, tables)
        elif isinstance(event, DecisionRecorded):
            decision = event.decision
            command = decision.command
            if command is not None and command.get("type") == "SendNotice":
                self._sent(event.account_id, decision.rule, command, tables)
            if decision.rule == Rule.PROMISE_MADE:
                replaced, notice = decision.facts.get("replaced_notice"), decision.facts.get("command_id")
                if isinstance(replaced, str) and replaced != notice:
                    self._settle(replaced, "replaced", tables)
            elif decision.rule in _SETTLED:
                notice = decision.facts.get("command_id")
                if isinstance(notice, str):
                    self._settle(notice, _SETTLED[decision.rule], tables)

    @staticmethod
    def _sent(account_id: str, rule: str, command: dict[str, Any], tables: Tables) -> None:
        tables.put(
            NOTICES,
            {
                "command_id": command["command_id"],
                "account_id": account_id,
                "template": command["template"],
                "channel": command["channel"],
                "rule": rule,
                "deliver_at": utc(datetime.fromisoformat(str(command["deliver_at"]))),
                "outcomes": 0,
                "last_outcome": None,
                "last_outcome_at": None,
                "contacted": False,
                "failed": False,
                "promised": False,
                "promise_result": None,
            },
        )
        rates = _rates(tables, command["template"], command["channel"])
        rates["sent"] += 1
        _put_rates(tables, rates)

    @staticmethod
    def _outcome(fact: NoticeOutcomeReported, tables: Tables) -> None:
        row = tables.get(NOTICES, (fact.data.command_id,))
        if row is None:  # an outcome is recorded only for a notice the account was sent
            return
        outcome = fact.data.outcome
        row["outcomes"] += 1
        row["last_outcome"], row["last_outcome_at"] = outcome, utc(fact.occurred_at)
        rates = _rates(tables, row["template"], row["channel"])
        for flag, hit in (("contacted", outcome in CONTACT), ("failed", outcome == "failed")):
            if hit and not row[flag]:
                row[flag] = True
                rates[flag] += 1
        if outcome == PROMISE_TO_PAY:
            if not row["promised"]:
                row["promised"] = True
                rates["promised"] += 1
            row["promise_result"] = "open"
        tables.put(NOTICES, row)
        _put_rates(tables, rates)

    @staticmethod
    def _settle(command_id: str, result: str, tables: Tables) -> None:
        row = tables.get(NOTICES, (command_id,))
        if row is None or row["promise_result"] != "open":
            return
        row["promise_result"] = result
        tables.put(NOTICES, row)
        if result in ("kept", "broken"):
            rates = _rates(tables, row["template"], row["channel"])
            rates[result] += 1
            _put_rates(tables, rates)


def _rates(tables: Tables, template: str, channel: str) -> Row:
    found = tables.get(NOTICE_RATES, (template, channel))
    if found is not None:
        return found
    counts = dict.fromkeys(("sent", "contacted", "failed", "promised", "kept", "broken"), 0)
    return {"template": template, "channel": channel, **counts}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _put_rates(tables: Tables, rates: Row) -> None:
    rates["contact_rate"] = _share(rates["contacted"], rates["sent"])
    rates["promise_rate"] = _share(rates["promised"], rates["contacted"])
    rates["promise_kept_rate"] = _share(rates["kept"], rates["kept"] + rates["broken"])
    tables.put(NOTICE_RATES, rates)
