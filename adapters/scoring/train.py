"""Training a scorecard: WoE bins, a logistic regression (scikit-learn), points scaled by PDO.

The regression is fitted on the bins' weights of evidence (WoE > 0: better
than average), so every coefficient should come out negative; an attribute
whose coefficient does not (it only repeats what others say) is dropped and
the rest refitted, so that a better bin never costs points. Attributes with
an information value under 0.02 (not predictive, by the usual rule of thumb)
stay in the file with 0 points, so explanations still list them.

Points: with factor = PDO / ln 2 and offset = base score - factor * ln(base
odds), a score is offset + factor * ln(good:bad odds). The regression gives
ln(bad:good odds) = a + sum(b_j * WoE_j), so an attribute's bin is worth
round(-factor * b_j * WoE) points and the base points are
round(offset - factor * a), integers that sum exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import pairwise
from typing import Any

from adapters.scoring.binning import Binning, Bucket, Trend, bin_attribute
from adapters.scoring.dataset import Sample
from adapters.scoring.evaluation import evaluate
from engine.scoring.features import ATTRIBUTES, Features
from engine.scoring.scorecard import (
    Attribute,
    Bin,
    Metrics,
    Population,
    Scaling,
    ScoreBand,
    Scorecard,
    Tier,
    Window,
)

TRENDS: dict[str, Trend] = {
    "days_past_due": "ascending",
    "worst_days_past_due_12m": "ascending",
    "overdue_episodes_12m": "ascending",
    "utilisation": "ascending",
    "on_time_streak": "descending",
    "months_on_book": "descending",
    "broken_plans_12m": "ascending",
    "reversals_12m": "ascending",
    "promise_kept_rate": "descending",
}
NULLABLE = {"promise_kept_rate"}
INTEGER = {name for name in ATTRIBUTES if name not in {"utilisation", "promise_kept_rate"}}
MIN_INFORMATION_VALUE = 0.02
SCALING = Scaling(base_score=600, base_odds=Decimal(50), pdo=20)
TIERS = [
    Tier(name="A", max_probability=Decimal("0.02")),
    Tier(name="B", max_probability=Decimal("0.05")),
    Tier(name="C", max_probability=Decimal("0.10")),
    Tier(name="D", max_probability=Decimal("0.20")),
    Tier(name="E", max_probability=None),
]


class ModellingUnavailable(RuntimeError):
    """scikit-learn is not installed (the `scoring` extra)."""


@dataclass(frozen=True)
class TrainSpec:
    version: str
    description: str = ""
    scaling: Scaling = SCALING
    population: Population = field(default_factory=Population)


def train(spec: TrainSpec, sample: Sample, out_of_time: Sample, measured: bool = True) -> Scorecard:
    """Bin, fit and scale on `sample`; measure on it and, if `measured`, on the later `out_of_time` population.

    `measured` is False when the store's events do not reach the end of the
    out-of-time horizon yet: the window is recorded, `score evaluate` measures it later.
    """
    if sample.positives == 0 or sample.positives == len(sample.labels):
        raise ValueError(
            f"the population as of {sample.window.as_of} has {sample.positives} positives in "
            f"{len(sample.labels)} accounts: a scorecard needs both outcomes"
        )
    binnings = {
        name: bin_attribute(
            name, [getattr(f, name) for f in sample.features], sample.labels, TRENDS[name], name in NULLABLE
        )
        for name in ATTRIBUTES
    }
    useful = [
        name
        for name, binning in binnings.items()
        if binning.information_value >= MIN_INFORMATION_VALUE and sum(1 for b in binning.buckets if b.accounts) > 1
    ]
    intercept, coefficients, library = _fit(binnings, useful, sample)
    factor = spec.scaling.pdo / math.log(2)
    offset = spec.scaling.base_score - factor * math.log(float(spec.scaling.base_odds))
    attributes = [
        _attribute(binnings[name], coefficients.get(name, 0.0), factor, len(sample.labels)) for name in ATTRIBUTES
    ]
    draft = Scorecard(
        version=spec.version,
        description=spec.description,
        population=spec.population,
        scaling=spec.scaling,
        base_points=_integer(offset - factor * intercept),
        attributes=attributes,
        tiers=TIERS,
        score_bands=[],
        training=_window(sample),
        out_of_time=_window(out_of_time, measured),
        metrics={"training": Metrics(auc=0.5, ks=0.0, baseline_auc=0.5)},
        trained_with=library,
    )
    points = [draft.score(features).points for features in sample.features]
    scored = draft.model_copy(update={"score_bands": _bands(points, spec.scaling.pdo)})
    results = {"training": evaluate(scored, sample).metrics()}
    if measured:
        results["out_of_time"] = evaluate(scored, out_of_time).metrics()
    return Scorecard.model_validate(scored.model_copy(update={"metrics": results}).model_dump())


def _fit(binnings: dict[str, Binning], useful: list[str], sample: Sample) -> tuple[float, dict[str, float], str]:
    """The intercept and a negative coefficient per kept attribute, refitting without any positive one."""
    try:
        import sklearn  # noqa: PLC0415 - the heavy library loads only when a scorecard is trained
        from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    except ImportError:
        raise ModellingUnavailable(
            "training needs scikit-learn: pip install 'fengkong[scoring]' (make venv installs it)"
        ) from None
    kept = list(useful)
    while True:
        rows = [_woe_row(binnings, kept, features) for features in sample.features]
        if not kept:
            rate = sample.positives / len(sample.labels)
            return math.log(rate / (1 - rate)), {}, f"scikit-learn {sklearn.__version__}"
        model: Any = LogisticRegression(C=1.0, max_iter=1000)
        model.fit(rows, sample.labels)
        found = {name: float(c) for name, c in zip(kept, model.coef_[0], strict=True)}
        wrong = [name for name in kept if found[name] >= 0]
        if not wrong:
            return float(model.intercept_[0]), found, f"scikit-learn {sklearn.__version__} LogisticRegression"
        kept.remove(max(wrong, key=lambda name: (found[name], name)))


def _woe_row(binnings: dict[str, Binning], names: Sequence[str], features: Features) -> list[float]:
    row = []
    for name in names:
        binning = binnings[name]
        row.append(binning.woe(binning.buckets[binning.index(getattr(features, name))]))
    return row


def _attribute(binning: Binning, coefficient: float, factor: float, population: int) -> Attribute:
    name = binning.attribute
    bins = [
        Bin(
            label=_label(name, bucket),
            lower=None if bucket.lower is None else Decimal(bucket.lower),
            upper=None if bucket.upper is None else Decimal(bucket.upper),
            missing=bucket.missing,
            points=_integer(-factor * coefficient * binning.woe(bucket)),
            woe=_decimal(binning.woe(bucket)),
            accounts=bucket.accounts,
            positives=bucket.bads,
            share=_decimal(bucket.accounts / population),
        )
        for bucket in binning.buckets
    ]
    return Attribute(
        name=name,
        trend=binning.trend,
        coefficient=_decimal(coefficient),
        information_value=_decimal(binning.information_value),
        bins=bins,
    )


def _label(name: str, bucket: Bucket) -> str:
    """Readable ranges: '0', '1-2', '>= 3' for counts; '< 0.25', '[0.25, 0.5)' for ratios."""
    if bucket.missing:
        return "none recorded"
    lower, upper = bucket.lower, bucket.upper
    if lower is None and upper is None:
        return "any"
    if name in INTEGER:
        if lower is None:
            return f"<= {upper - 1}" if upper is not None else "any"
        if upper is None:
            return f">= {lower}"
        return f"{lower}" if upper - lower == 1 else f"{lower}-{upper - 1}"
    if lower is None:
        return f"< {upper}"
    if upper is None:
        return f">= {lower}"
    return f"[{lower}, {upper})"


def _bands(points: list[int], pdo: int) -> list[ScoreBand]:
    """Score bands one PDO wide over the training population's 5th to 95th percentile, open at both ends.

    Fixed-width bands, not deciles: scores are integers and cluster (every
    clean account gets the same points), so decile edges fall inside a
    cluster and a one-point move would read as instability.
    """
    ordered = sorted(points)
    low = math.floor(ordered[len(ordered) // 20] / 10) * 10
    high = ordered[len(ordered) * 19 // 20]
    cuts = list(range(low, high + 1, pdo)) or [low]
    bounds: list[int | None] = [None, *cuts, None]
    bands = []
    for lower, upper in pairwise(bounds):
        count = sum(1 for p in ordered if (lower is None or p >= lower) and (upper is None or p < upper))
        bands.append(ScoreBand(lower=lower, upper=upper, share=_decimal(count / len(ordered))))
    return bands


def _window(sample: Sample, measured: bool = True) -> Window:
    return Window(
        as_of=sample.window.as_of,
        horizon_days=sample.window.horizon_days,
        accounts=len(sample.labels) if measured else 0,
        positives=sample.positives if measured else 0,
    )


def _integer(value: float) -> int:
    return int(Decimal(repr(value)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)


def default_version(as_of: date, horizon_days: int) -> str:
    return f"pd-{as_of.isoformat()}-h{horizon_days}"
