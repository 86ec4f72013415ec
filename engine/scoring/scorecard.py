"""A scorecard, and applying it: attribute value -> bin -> points, total -> probability -> risk tier.

The file a training run writes (`adapters/scoring/`) is read here into frozen
models, immutable like a policy: a version, the bins of every attribute with
their integer points, the base points, the scaling (base score, base odds,
points to double the odds), the risk tiers, the training and out-of-time
windows and their metrics. Scoring is exact: points are integers, so the
contributions sum to the score; the probability is computed in Decimal under
a fixed context, so every machine and every replay gets the same digits.
No modelling library is needed here: the engine can score in its hot path.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.scoring.features import ATTRIBUTES, Features

Value = int | Decimal | None
_EXACT = Context(prec=28, rounding=ROUND_HALF_EVEN)
_PROBABILITY = Decimal("0.000001")
REASONS = 3  # reason codes per score, as adverse-action notices give them


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bin(_Frozen):
    """A range [lower, upper) of an attribute (None: unbounded), or the bin of an absent value."""

    label: str
    lower: Decimal | None = None
    upper: Decimal | None = None
    missing: bool = False
    points: int
    woe: Decimal  # ln(share of the good accounts / share of the bad) in training; > 0 is better than average
    accounts: int  # training accounts in the bin
    positives: int  # of which reached the label
    share: Decimal  # accounts / training population: the reference for the population stability index

    def holds(self, value: Value) -> bool:
        if value is None or self.missing:
            return value is None and self.missing
        return (self.lower is None or value >= self.lower) and (self.upper is None or value < self.upper)


class Attribute(_Frozen):
    name: str
    trend: Literal["ascending", "descending", "none"]  # how risk moves as the value grows (a binning constraint)
    coefficient: Decimal  # the logistic regression's, on the bins' WoE (0: not in the model)
    information_value: Decimal
    bins: Annotated[list[Bin], Field(min_length=1)]

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in ATTRIBUTES:
            raise ValueError(f"unknown attribute (known: {', '.join(ATTRIBUTES)})")
        return name

    @model_validator(mode="after")
    def _covering(self) -> Attribute:
        """Ranges in order, each starting where the previous ends, from -inf to +inf; at most one missing bin."""
        ranges = [b for b in self.bins if not b.missing]
        if len(self.bins) - len(ranges) > 1:
            raise ValueError(f"{self.name}: more than one bin for an absent value")
        if not ranges or ranges[0].lower is not None or ranges[-1].upper is not None:
            raise ValueError(f"{self.name}: bins must cover every value, from no lower bound to no upper bound")
        for left, right in pairwise(ranges):
            if left.upper is None or left.upper != right.lower:
                raise ValueError(f"{self.name}: bins must be contiguous and ascending")
        return self

    def bin_of(self, value: Value) -> Bin:
        """The bin holding `value`: a bisection over the upper bounds (the engine scores at many decisions)."""
        uppers, ranges, missing = self._lookup
        if value is None:
            if missing is None:
                raise ValueError(f"{self.name}: no bin for an absent value")
            return missing
        return ranges[bisect_right(uppers, value)]

    @cached_property
    def _lookup(self) -> tuple[list[Decimal], list[Bin], Bin | None]:
        """The upper bounds of the ranges but the last (contiguous: the validator), the ranges, the missing bin."""
        ranges = [b for b in self.bins if not b.missing]
        uppers = [b.upper for b in ranges[:-1] if b.upper is not None]
        return uppers, ranges, next((b for b in self.bins if b.missing), None)

    @cached_property
    def best_points(self) -> int:
        return max(b.points for b in self.bins)


class Scaling(_Frozen):
    """score = base_score at odds (good:bad) of base_odds:1; every pdo points more doubles the odds."""

    base_score: int
    base_odds: Annotated[Decimal, Field(gt=0)]
    pdo: Annotated[int, Field(gt=0)]


class Tier(_Frozen):
    name: str
    max_probability: Decimal | None  # the tier holds probabilities below this; None: the rest


class ScoreBand(_Frozen):
    """A range [lower, upper) of scores and the share of the training population in it (for PSI)."""

    lower: int | None
    upper: int | None
    share: Decimal


class Window(_Frozen):
    """An evaluation population: accounts as of `as_of`, labelled over the following `horizon_days`."""

    as_of: date
    horizon_days: Annotated[int, Field(ge=1)]
    accounts: int = 0
    positives: int = 0


class Population(_Frozen):
    min_months_on_book: int = 3
    max_days_past_due: int = 29  # under 30 days past due at the as-of date
    label_days_past_due: int = 30  # positive: reached this within the horizon


class Metrics(_Frozen):
    auc: float
    ks: float
    baseline_auc: float  # ranking by current days past due alone (ties count half)
    psi: float | None = None  # of the score, against the training population


class Scorecard(_Frozen):
    format: Literal[1] = 1
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    description: str = ""
    zone: str = "Asia/Shanghai"  # where an as-of date ends
    population: Population = Population()
    scaling: Scaling
    base_points: int
    attributes: Annotated[list[Attribute], Field(min_length=1)]
    tiers: Annotated[list[Tier], Field(min_length=1)]
    score_bands: list[ScoreBand]
    training: Window
    out_of_time: Window
    metrics: dict[Literal["training", "out_of_time"], Metrics]
    trained_with: str = ""  # the library that fitted it, for the record

    @model_validator(mode="after")
    def _consistent(self) -> Scorecard:
        names = [a.name for a in self.attributes]
        if len(set(names)) != len(names):
            raise ValueError("an attribute appears twice")
        bounds = [t.max_probability for t in self.tiers[:-1] if t.max_probability is not None]
        if self.tiers[-1].max_probability is not None or len(bounds) != len(self.tiers) - 1:
            raise ValueError("tiers: every tier but the last needs max_probability, the last none")
        if bounds != sorted(bounds):
            raise ValueError("tiers: max_probability must ascend")
        return self

    # ------------------------------------------------------------ applying

    def score(self, features: Features) -> Score:
        """The account's points per attribute, total, probability, tier and reason codes (pure, exact)."""
        values = features.values()
        contributions = []
        for attribute in self.attributes:
            value = values[attribute.name]
            chosen = attribute.bin_of(value)
            contributions.append(
                Contribution(attribute.name, value, chosen.label, chosen.points, attribute.best_points - chosen.points)
            )
        total = self.base_points + sum(c.points for c in contributions)
        probability = self.probability(total)
        costly = sorted((c for c in contributions if c.shortfall > 0), key=lambda c: -c.shortfall)
        return Score(
            version=self.version,
            points=total,
            base_points=self.base_points,
            probability=probability,
            tier=self.tier(probability),
            contributions=tuple(contributions),
            reasons=tuple(c.attribute for c in costly[:REASONS]),
        )

    def probability(self, points: int) -> Decimal:
        """P(bad) at `points`: odds good:bad = base_odds * 2 ** ((points - base_score) / pdo)."""
        scaling = self.scaling
        return _probability(points, scaling.base_score, scaling.base_odds, scaling.pdo)

    def tier(self, probability: Decimal) -> str:
        for tier in self.tiers:
            if tier.max_probability is None or probability < tier.max_probability:
                return tier.name
        raise AssertionError("the last tier has no bound")  # the validator guarantees it

    def attribute(self, name: str) -> Attribute:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        raise KeyError(name)


@functools.lru_cache(maxsize=4096)
def _probability(points: int, base_score: int, base_odds: Decimal, pdo: int) -> Decimal:
    """Computed once per score and scaling: the engine scores at many decisions, over few distinct points."""
    exponent = _EXACT.divide(Decimal(points - base_score), Decimal(pdo))
    odds = _EXACT.multiply(base_odds, _EXACT.power(Decimal(2), exponent))
    return _EXACT.divide(Decimal(1), _EXACT.add(Decimal(1), odds)).quantize(_PROBABILITY, context=_EXACT)


@dataclass(frozen=True, slots=True)
class Contribution:
    attribute: str
    value: Value
    bin: str
    points: int
    shortfall: int  # points below the attribute's best bin: what a reason code ranks by


@dataclass(frozen=True, slots=True)
class Score:
    version: str
    points: int  # base_points + the contributions' points, exactly
    base_points: int
    probability: Decimal
    tier: str
    contributions: tuple[Contribution, ...]
    reasons: tuple[str, ...]  # the attributes that cost the most points, at most three


# ---------------------------------------------------------------- files

SHIPPED: Traversable = resources.files("engine.scoring").joinpath("scorecards")
"""The folder of the scorecards shipped with the engine: only a seed, the store records what decisions used."""


def parse_scorecard(text: str) -> Scorecard:
    return Scorecard.model_validate_json(text)


@functools.cache
def shipped_scorecard(version: str) -> Scorecard:
    """A scorecard shipped with the engine (engine/scoring/scorecards/<version>.json), by version."""
    shipped = SHIPPED.joinpath(f"{version}.json")
    if not shipped.is_file():
        raise FileNotFoundError(f"no scorecard {version!r} is shipped with the engine")
    return parse_scorecard(shipped.read_text(encoding="utf-8"))


def shipped_scorecards() -> list[str]:
    """The versions shipped with the engine."""
    return sorted(entry.name.removesuffix(".json") for entry in SHIPPED.iterdir() if entry.name.endswith(".json"))


def load_scorecard(name_or_path: str, folders: tuple[Path, ...] = ()) -> Scorecard:
    """A scorecard by file path, by version in one of `folders` (`<version>.json`), or shipped with the engine."""
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists():
        return parse_scorecard(path.read_text(encoding="utf-8"))
    for folder in folders:
        candidate = folder / f"{name_or_path}.json"
        if candidate.is_file():
            return parse_scorecard(candidate.read_text(encoding="utf-8"))
    shipped = SHIPPED.joinpath(f"{name_or_path}.json")
    if shipped.is_file():
        return parse_scorecard(shipped.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"no scorecard named {name_or_path!r} and no such file")


def dump_scorecard(scorecard: Scorecard) -> str:
    """The file's text: indented JSON, fields in model order, one trailing newline (stable bytes)."""
    return scorecard.model_dump_json(indent=2) + "\n"
