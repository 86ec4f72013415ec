"""The declarative, versioned policy: every threshold is a setting of a file.

Policies live in TOML files validated here; `default-v1` ships with the
engine. Decisions record the version they were made under, and the first use
of a policy records its full text in the store (engine.documents), so an audit
never needs the file again: shipped files are only a seed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import time
from decimal import ROUND_CEILING, Decimal
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from engine.documents import Document
from engine.scoring.scorecard import Scorecard, shipped_scorecard
from events.documents import POLICIES

DEFAULT_POLICY = "default-v1"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LockRule(_Section):
    min_days_past_due: Annotated[int, Field(ge=1)]
    min_overdue_outstanding: Decimal


class NoticeRule(_Section):
    points: Annotated[list[int], Field(min_length=1)]
    template: str
    channel: str
    quiet_start: time
    quiet_end: time
    max_per_window: Annotated[int, Field(ge=1)]
    window_days: Annotated[int, Field(ge=1)]
    # Notice cadence by the default probability's risk tier (the policy's [scoring] scorecard):
    # a tier listed here gets its own points instead of `points`.
    points_by_tier: dict[str, Annotated[list[int], Field(min_length=1)]] = Field(default_factory=dict)

    @field_validator("points")
    @classmethod
    def _ascending(cls, points: list[int]) -> list[int]:
        return _ascending_points(points)

    @field_validator("points_by_tier")
    @classmethod
    def _each_ascending(cls, by_tier: dict[str, list[int]]) -> dict[str, list[int]]:
        return {tier: _ascending_points(points) for tier, points in by_tier.items()}

    def points_for(self, tier: str | None) -> list[int]:
        return self.points_by_tier.get(tier, self.points) if tier is not None else self.points

    @property
    def any_points(self) -> list[int]:
        """Every point of any tier: a report reaching none of them needs no score."""
        return sorted({*self.points, *(p for points in self.points_by_tier.values() for p in points)})


def _ascending_points(points: list[int]) -> list[int]:
    if points != sorted(set(points)) or points[0] < 1:
        raise ValueError("points must be distinct, ascending and >= 1")
    return points


class ReviewRule(_Section):
    business_days: Annotated[int, Field(ge=1, le=60)]
    calendar: Literal["CN"]  # the region of the holiday calendar recorded in the store (engine.business_days)
    auto_approve_on_first_installment: bool
    escalation_template: str
    escalation_channel: str
    # Automatic approval only below this default probability (the policy's [scoring] scorecard);
    # at or above it the review waits for an operator. None: no score is asked.
    auto_approve_max_probability: Annotated[Decimal, Field(gt=0, le=1)] | None = None


class AccumulationRule(_Section):
    overdue_bills: Annotated[int, Field(ge=1)]
    window_days: Annotated[int, Field(ge=1)]
    limit_factor: Annotated[Decimal, Field(gt=0, le=1)]


class RepairRule(_Section):
    on_time_bills: Annotated[int, Field(ge=1)]
    limit_step: Annotated[Decimal, Field(gt=0, le=1)]


class ScoreRule(_Section):
    initial: int
    minimum: int
    maximum: int
    overdue_penalty: Annotated[int, Field(ge=0)]
    accumulation_penalty: Annotated[int, Field(ge=0)]
    repair_step: Annotated[int, Field(ge=0)]

    def clamp(self, score: int) -> int:
        return max(self.minimum, min(self.maximum, score))


class BrakeRule(_Section):
    """Contract rule 8: automatic locks beyond `max(ceil(share_of_active x active), minimum)` per window are held.

    The defaults are the contract's numbers (2% of active accounts, at least 50, per hour of event
    time), the ones `default-v1` states in CONTRACT.md: a policy file that has no `[brake]` section
    (default-v1's, whose text stays as shipped) gets them; a new policy version states its own.
    """

    enabled: bool = True  # off: every automatic lock is emitted unjudged (a test or benchmark policy)
    window_minutes: Annotated[int, Field(ge=1, le=1440)] = 60
    share_of_active: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.02")
    minimum: Annotated[int, Field(ge=0)] = 50

    def bound(self, active: int) -> int:
        """How many automatic locks a window may emit: ceil(share x active), at least `minimum`."""
        share = self.share_of_active * active
        return max(int(share.to_integral_value(rounding=ROUND_CEILING)), self.minimum)


class DecisionsRule(_Section):
    """How decisions are recorded (optional; default-v1 predates it and keeps its facts as they were)."""

    record_thresholds: bool = False  # each decision's facts carry the settings it compared with ("thresholds")


class ScoringRule(_Section):
    """The default-probability scorecard the rules use (engine.scoring), by version."""

    scorecard: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class EarlyWarningRule(_Section):
    """Signals seen while nothing is overdue put the account on the watch list (engine.watch)."""

    reversed_repayment: bool = False
    partial_payment: bool = False
    open_bills: Annotated[int, Field(ge=2)] | None = None  # this many bills (not installments) open at once
    utilisation_above: Annotated[Decimal, Field(gt=0)] | None = None  # outstanding / opening limit rises to it
    tier_fall: bool = False  # the risk tier of the default probability gets worse (needs [scoring]) ...
    tier_fall_steps: Annotated[int, Field(ge=1)] = 1  # ... by at least this many tiers since the previous bill
    reminder_template: str | None = None  # a pre-due reminder for the next bill due; None: none
    reminder_channel: str = "sms"


class OutcomesRule(_Section):
    """What notice outcomes (NoticeOutcomeReported) make the policy do (engine.outcomes)."""

    resend_failed_channel: str | None = None  # a failed notice of this channel is re-sent once ...
    resend_channel: str = "app_push"  # ... by this one
    promise_suspends_notices: bool = False  # overdue notices wait for the promised date (dropped, counted)
    promise_broken_template: str | None = None  # a broken promise escalates with this notice; None: recorded only
    promise_broken_channel: str = "ops"


class RetentionRule(_Section):
    """How long a customer's personal data is kept once their accounts are all closed (docs/privacy.md).

    Read by `fengkong privacy sweep` from the store's active policy, never by a decision: the sweep
    forgets a customer whose latest `AccountClosed` lies more than `forget_after_days` before the
    platform clock's latest closed business date.
    """

    forget_after_days: Annotated[int, Field(ge=1, le=36_525)]


class Policy(_Section):
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    description: str = ""
    lock: LockRule
    notices: NoticeRule
    review: ReviewRule
    accumulation: AccumulationRule
    repair: RepairRule
    score: ScoreRule
    brake: BrakeRule = BrakeRule()
    decisions: DecisionsRule = DecisionsRule()

    @cached_property
    def settings_json(self) -> dict[str, Any]:
        """Every setting in JSON form, computed once (thresholds are read from it on every decision)."""
        return self.model_dump(mode="json")

    # Sections default-v1 predates (None: the rules are off; default-v2 sets them).
    scoring: ScoringRule | None = None
    early_warning: EarlyWarningRule | None = None
    outcomes: OutcomesRule | None = None
    retention: RetentionRule | None = None  # None: nobody is forgotten automatically

    _scorecard: Scorecard | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _score_needs_a_scorecard(self) -> Policy:
        users = [
            name
            for name, used in (
                ("review.auto_approve_max_probability", self.review.auto_approve_max_probability is not None),
                ("notices.points_by_tier", bool(self.notices.points_by_tier)),
                ("early_warning.tier_fall", self.early_warning is not None and self.early_warning.tier_fall),
            )
            if used
        ]
        if users and self.scoring is None:
            raise ValueError(f"{', '.join(users)} use the default probability: name a scorecard in [scoring]")
        return self

    @property
    def scorecard(self) -> Scorecard:
        """The scorecard [scoring] names, as bound when the policy was read (`bind_scorecard`)."""
        if self._scorecard is None:
            raise LookupError(f"policy {self.version} has no scorecard bound")
        return self._scorecard

    def bind_scorecard(self, scorecards: ScorecardSource) -> Policy:
        """Resolve the scorecard [scoring] names (once, when the policy is read), checking its tiers."""
        if self.scoring is None:
            return self
        card = scorecards(self.scoring.scorecard)
        if card.version != self.scoring.scorecard:
            raise ValueError(f"scorecard {self.scoring.scorecard!r} resolved to a scorecard of version {card.version}")
        tiers = {tier.name for tier in card.tiers}
        unknown = sorted(set(self.notices.points_by_tier) - tiers)
        if unknown:
            raise ValueError(f"notices.points_by_tier: tiers {unknown} are not tiers of {card.version}")
        self._scorecard = card
        return self


ScorecardSource = Callable[[str], Scorecard]
"""version -> the scorecard of that version: `shipped_scorecard` for a policy from a file, the store's recorded
one for a policy the store recorded (engine.governance.InForce.scorecard_for)."""


def parse_policy(text: str, scorecards: ScorecardSource = shipped_scorecard) -> Policy:
    """A policy file's text validated, with the scorecard it names resolved by `scorecards`."""
    return Policy.model_validate(tomllib.loads(text)).bind_scorecard(scorecards)


def policy_text(name_or_path: str = DEFAULT_POLICY) -> str:
    """The text of a policy file (by path) or of a shipped policy (by version name)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return path.read_text(encoding="utf-8")
    shipped = resources.files("engine.policies").joinpath(f"{name_or_path}.toml")
    if not shipped.is_file():
        raise FileNotFoundError(f"no shipped policy named {name_or_path!r} and no such file")
    return shipped.read_text(encoding="utf-8")


def load_policy(name_or_path: str = DEFAULT_POLICY, scorecards: ScorecardSource = shipped_scorecard) -> Policy:
    """Load a shipped policy by version name, or any policy file by path."""
    return parse_policy(policy_text(name_or_path), scorecards)


def policy_document(text: str, scorecards: ScorecardSource = shipped_scorecard) -> tuple[Policy, Document]:
    """A policy text validated, and the document the store records for it (its version, text and digest)."""
    policy = parse_policy(text, scorecards)
    return policy, Document.of(POLICIES, policy.version, text)


def shipped_policies() -> list[str]:
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in resources.files("engine.policies").iterdir()
        if entry.name.endswith(".toml")
    )


def settings_diff(a: Policy, b: Policy) -> list[tuple[str, Any, Any]]:
    """(setting, value in a, value in b) for every setting that differs (`section.name`; version and
    description aside), in JSON form."""
    left, right = _flat(a.settings_json), _flat(b.settings_json)
    names = [name for name in dict.fromkeys([*left, *right]) if name not in ("version", "description")]
    return [(name, left.get(name), right.get(name)) for name in names if left.get(name) != right.get(name)]


def _flat(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat
