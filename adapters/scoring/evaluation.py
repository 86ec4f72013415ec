"""How a scorecard ranks a labelled population: AUC, KS, the days-past-due baseline, score PSI."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from adapters.scoring.dataset import Sample
from engine.scoring import metrics
from engine.scoring.scorecard import Metrics, ScoreBand, Scorecard


@dataclass(frozen=True)
class Evaluation:
    as_of: str
    horizon_days: int
    n: int
    positives: int
    auc: float
    ks: float
    baseline_auc: float  # ranking by current days past due alone, ties half
    baseline_ks: float
    psi: float | None  # of the score against the training population
    psi_alert: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def metrics(self) -> Metrics:
        return Metrics(
            auc=round(self.auc, 4), ks=round(self.ks, 4), baseline_auc=round(self.baseline_auc, 4), psi=self.psi
        )


def band_shares(bands: Sequence[ScoreBand], points: Sequence[int]) -> list[float]:
    """The share of `points` in each band (bands ascending, contiguous)."""
    lowers = [band.lower for band in bands[1:] if band.lower is not None]  # every band but the first has one
    counts = [0] * len(bands)
    for value in points:
        counts[bisect_right(lowers, value)] += 1
    return metrics.shares(counts)


def evaluate(scorecard: Scorecard, sample: Sample) -> Evaluation:
    points = [scorecard.score(features).points for features in sample.features]
    labels = sample.labels
    dpd = [features.days_past_due for features in sample.features]
    risk = [-p for p in points]  # more points, less risk
    psi = None
    if scorecard.score_bands and points:
        expected = [float(band.share) for band in scorecard.score_bands]
        psi = round(metrics.psi(expected, band_shares(scorecard.score_bands, points)), 4)
    return Evaluation(
        as_of=sample.window.as_of.isoformat(),
        horizon_days=sample.window.horizon_days,
        n=len(labels),
        positives=sum(labels),
        auc=round(metrics.auc(risk, labels), 4),
        ks=round(metrics.ks(risk, labels), 4),
        baseline_auc=round(metrics.auc(dpd, labels), 4),
        baseline_ks=round(metrics.ks(dpd, labels), 4),
        psi=psi,
        psi_alert=metrics.alert(psi) if psi is not None else None,
    )
