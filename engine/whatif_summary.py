"""The what-if report: per-account outcomes (engine.whatif) added up into what an auditor signs.

Everything counts within the period: commands by type on each side, the
accounts locked on one side only, first locks earlier or later (in local
calendar days between their causes), notices by template, limit changes,
portfolio totals at the end of the period, and every differing account,
never truncated. The JSON form is documented in docs/audit.md.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.whatif import AccountOutcome, Side
from events.commands import CommandType
from events.rules import Rule

SIDES = ("recorded", "candidate")


@dataclass
class _Totals:
    accounts: int = 0
    locked: int = 0
    suspended: int = 0
    bureau_flagged: int = 0
    credit_limit: Decimal = Decimal("0.00")
    score: int = 0

    def add(self, side: Side) -> None:
        standing = side.standing
        if standing is None:
            return
        self.accounts += 1
        self.locked += standing.card_locked
        self.suspended += standing.line_suspended
        self.bureau_flagged += standing.bureau_flag
        self.credit_limit += standing.credit_limit
        self.score += standing.score

    def json(self) -> dict[str, Any]:
        return {
            "accounts_locked": self.locked,
            "accounts_suspended": self.suspended,
            "accounts_bureau_flagged": self.bureau_flagged,
            "total_credit_limit": str(self.credit_limit),
            "mean_score": round(self.score / self.accounts, 1) if self.accounts else None,
        }


@dataclass
class Summary:
    """Outcomes added up as they arrive (from any number of processes)."""

    accounts: int = 0
    facts: int = 0
    decided: int = 0
    commands: dict[str, Counter[str]] = field(default_factory=lambda: {side: Counter() for side in SIDES})
    notices: dict[str, Counter[str]] = field(default_factory=lambda: {side: Counter() for side in SIDES})
    limits: dict[str, Counter[str]] = field(default_factory=lambda: {side: Counter() for side in SIDES})
    totals: dict[str, _Totals] = field(default_factory=lambda: {side: _Totals() for side in SIDES})
    locked_only: dict[str, list[str]] = field(default_factory=lambda: {side: [] for side in SIDES})
    shifts: list[dict[str, Any]] = field(default_factory=list)
    differing: list[dict[str, Any]] = field(default_factory=list)

    def add(self, outcome: AccountOutcome) -> None:
        self.accounts += 1
        self.facts += outcome.facts
        self.decided += outcome.decided
        sides = {"recorded": outcome.recorded, "candidate": outcome.candidate}
        for name, side in sides.items():
            self.totals[name].add(side)
            for kind, rule, fields in side.commands:
                self.commands[name][kind] += 1
                if kind == CommandType.SEND_NOTICE:
                    self.notices[name][str(fields["template"])] += 1
                elif kind == CommandType.ADJUST_CREDIT_LIMIT:
                    self.limits[name]["raises" if rule == Rule.REPAIR_LIMIT_STEP else "cuts"] += 1
        recorded, candidate = outcome.recorded.locks, outcome.candidate.locks
        if recorded and not candidate:
            self.locked_only["recorded"].append(outcome.account_id)
        elif candidate and not recorded:
            self.locked_only["candidate"].append(outcome.account_id)
        first_lock = None
        if recorded and candidate:
            days = (candidate[0] - recorded[0]).days
            first_lock = {"recorded": recorded[0].isoformat(), "candidate": candidate[0].isoformat(), "days": days}
            if days:
                self.shifts.append({"account_id": outcome.account_id, **first_lock})
        if outcome.differs:
            self.differing.append(
                {
                    "account_id": outcome.account_id,
                    "commands": {
                        name: dict(sorted(Counter(kind for kind, _, _ in side.commands).items()))
                        for name, side in sides.items()
                    },
                    "locks": {name: [day.isoformat() for day in side.locks] for name, side in sides.items()},
                    "first_lock": first_lock,
                    "decisions": {name: len(side.decisions) for name, side in sides.items()},
                }
            )

    @property
    def identical(self) -> bool:
        return not self.differing

    def json(self) -> dict[str, Any]:
        """The report's figures (docs/audit.md, "What-if"): every list complete, sorted by account."""
        differing = sorted(self.differing, key=lambda d: d["account_id"])
        shifts = sorted(self.shifts, key=lambda s: s["account_id"])
        histogram = Counter(shift["days"] for shift in shifts)
        return {
            "accounts": self.accounts,
            "facts": self.facts,
            "facts_decided": self.decided,
            "identical": self.identical,
            "commands_by_type": {side: dict(sorted(self.commands[side].items())) for side in SIDES},
            "locks": {
                "recorded": self.commands["recorded"][CommandType.LOCK_CARD],
                "candidate": self.commands["candidate"][CommandType.LOCK_CARD],
                "locked_only_recorded": sorted(self.locked_only["recorded"]),
                "locked_only_candidate": sorted(self.locked_only["candidate"]),
                "first_lock_earlier": sum(1 for s in shifts if s["days"] < 0),
                "first_lock_later": sum(1 for s in shifts if s["days"] > 0),
                "shift_days": {str(days): histogram[days] for days in sorted(histogram)},
                "shifts": shifts,
            },
            "notices": {side: dict(sorted(self.notices[side].items())) for side in SIDES},
            "limit_changes": {side: dict(sorted(self.limits[side].items())) for side in SIDES},
            "portfolio": {side: self.totals[side].json() for side in SIDES},
            "differing_count": len(differing),
            "differing_accounts": [d["account_id"] for d in differing],
            "differences": differing,
        }
