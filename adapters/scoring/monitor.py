"""Population stability of a scorecard: the score and every attribute, month by month, against training.

Each month's population (the accounts at least 3 months on book and under 30
days past due at the month's last day, as in training) is put into the
scorecard's own bins and score bands; the population stability index of each
against the training shares gets the conventional alert (0.1 watch, 0.25
act). The trend of an attribute is the direction of its monthly mean.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from adapters.scoring.dataset import Window, observe
from adapters.scoring.evaluation import band_shares
from engine.scoring import metrics
from engine.scoring.features import FeatureState
from engine.scoring.scorecard import Attribute, Scorecard

STEADY = 0.1  # a monthly mean that moved less than 10% over the months is steady


@dataclass
class Stability:
    psi: float | None
    alert: str | None
    mean: float | None


@dataclass
class Month:
    month: str
    as_of: str
    accounts: int
    score: Stability
    attributes: dict[str, Stability] = field(default_factory=dict)


@dataclass
class Report:
    scorecard: str
    reference: dict[str, Any]
    levels: dict[str, float]
    months: list[Month]
    trends: dict[str, dict[str, Any]]
    alert: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def month_ends(after: date, until: date) -> list[date]:
    """The last day of each month after `after`, up to `until` (and `until` itself if it ends no month)."""
    ends = []
    year, month = after.year, after.month
    while True:
        end = date(year, month, calendar.monthrange(year, month)[1])
        if end > until:
            break
        if end > after:
            ends.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if until > after and (not ends or ends[-1] != until):
        ends.append(until)
    return ends


def monitor(scorecard: Scorecard, states: Iterable[FeatureState], until: date) -> Report:
    zone = ZoneInfo(scorecard.zone)
    ends = month_ends(scorecard.training.as_of, until)
    observed = observe(states, [Window(end) for end in ends], scorecard.population, zone)
    months = [_month(scorecard, sample.window.as_of, sample.features) for sample in observed.samples]
    trends = {a.name: _trend([m.attributes[a.name].mean for m in months]) for a in scorecard.attributes}
    trends["score"] = _trend([m.score.mean for m in months])
    alerts = [m.score.alert for m in months] + [s.alert for m in months for s in m.attributes.values()]
    worst = "act" if "act" in alerts else "watch" if "watch" in alerts else "stable"
    return Report(
        scorecard=scorecard.version,
        reference={
            "as_of": scorecard.training.as_of.isoformat(),
            "accounts": scorecard.training.accounts,
        },
        levels={"watch": metrics.WATCH, "act": metrics.ACT},
        months=months,
        trends=trends,
        alert=worst,
    )


def _month(scorecard: Scorecard, as_of: date, population: list[Any]) -> Month:
    points = [scorecard.score(features).points for features in population]
    score = Stability(None, None, None)
    if points and scorecard.score_bands:
        index = metrics.psi([float(b.share) for b in scorecard.score_bands], band_shares(scorecard.score_bands, points))
        score = Stability(round(index, 4), metrics.alert(index), round(sum(points) / len(points), 2))
    month = Month(as_of.strftime("%Y-%m"), as_of.isoformat(), len(population), score)
    for attribute in scorecard.attributes:
        month.attributes[attribute.name] = _attribute(attribute, [getattr(f, attribute.name) for f in population])
    return month


def _attribute(attribute: Attribute, values: list[int | Decimal | None]) -> Stability:
    if not values:
        return Stability(None, None, None)
    counts = [0] * len(attribute.bins)
    for value in values:
        counts[attribute.bins.index(attribute.bin_of(value))] += 1
    index = metrics.psi([float(b.share) for b in attribute.bins], metrics.shares(counts))
    present = [float(v) for v in values if v is not None]
    mean = round(sum(present) / len(present), 4) if present else None
    return Stability(round(index, 4), metrics.alert(index), mean)


def _trend(means: list[float | None]) -> dict[str, Any]:
    """rising, falling or steady: the least-squares slope of the monthly means over their span."""
    known = [(i, m) for i, m in enumerate(means) if m is not None]
    if len(known) < 2:
        return {"direction": "no data" if not known else "steady", "first": known[0][1] if known else None}
    xs, ys = [i for i, _ in known], [m for _, m in known]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    change = slope * (xs[-1] - xs[0])
    scale = max(abs(my), 1e-9)
    direction = "steady" if abs(change) / scale < STEADY else "rising" if change > 0 else "falling"
    return {"direction": direction, "first": ys[0], "last": ys[-1], "change": round(change, 4)}
