"""The declarative, versioned policy: every threshold is a setting of a file.

Policies live in TOML files validated here; `default-v1` ships with the
engine. Decisions record the version they were made under, and the first use
of a policy records its full text in the store (engine.documents), so an audit
never needs the file again: shipped files are only a seed.
"""

from __future__ import annotations

import tomllib
from datetime import time
from decimal import ROUND_CEILING, Decimal
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.documents import Document
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

    @field_validator("points")
    @classmethod
    def _ascending(cls, points: list[int]) -> list[int]:
        if points != sorted(set(points)) or points[0] < 1:
            raise ValueError("points must be distinct, ascending and >= 1")
        return points


class ReviewRule(_Section):
    business_days: Annotated[int, Field(ge=1, le=60)]
    calendar: Literal["CN"]  # the region of the holiday calendar recorded in the store (engine.business_days)
    auto_approve_on_first_installment: bool
    escalation_template: str
    escalation_channel: str


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


def parse_policy(text: str) -> Policy:
    return Policy.model_validate(tomllib.loads(text))


def policy_text(name_or_path: str = DEFAULT_POLICY) -> str:
    """The text of a policy file (by path) or of a shipped policy (by version name)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return path.read_text(encoding="utf-8")
    shipped = resources.files("engine.policies").joinpath(f"{name_or_path}.toml")
    if not shipped.is_file():
        raise FileNotFoundError(f"no shipped policy named {name_or_path!r} and no such file")
    return shipped.read_text(encoding="utf-8")


def load_policy(name_or_path: str = DEFAULT_POLICY) -> Policy:
    """Load a shipped policy by version name, or any policy file by path."""
    return parse_policy(policy_text(name_or_path))


def policy_document(text: str) -> tuple[Policy, Document]:
    """A policy text validated, and the document the store records for it (its version, text and digest)."""
    policy = parse_policy(text)
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
