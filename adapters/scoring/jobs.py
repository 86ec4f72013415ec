"""The scoring commands' work, from an open engine to results (shared by `fengkong score` and the demo)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from adapters.scoring import files
from adapters.scoring.dataset import CensoredLabels, Window, check_complete, feature_states, observe
from adapters.scoring.evaluation import Evaluation, evaluate
from adapters.scoring.monitor import Report, monitor
from adapters.scoring.train import TrainSpec, train
from engine.application import RiskEngine
from engine.scoring.features import PLATFORM_ZONE, end_of_day
from engine.scoring.scorecard import Population, Score, Scorecard


@dataclass(frozen=True)
class Trained:
    scorecard: Scorecard
    path: Path
    written: bool  # False: the same file was there already

    def summary(self) -> dict[str, Any]:
        card = self.scorecard
        return {
            "version": card.version,
            "path": str(self.path),
            "written": self.written,
            "training": card.training.model_dump(mode="json") | card.metrics["training"].model_dump(),
            "out_of_time": card.out_of_time.model_dump(mode="json")
            | (card.metrics["out_of_time"].model_dump() if "out_of_time" in card.metrics else {}),
            "base_points": card.base_points,
            "scaling": card.scaling.model_dump(mode="json"),
            "attributes": [
                {
                    "name": a.name,
                    "information_value": float(a.information_value),
                    "coefficient": float(a.coefficient),
                    "bins": len(a.bins),
                    "points": [b.points for b in a.bins],
                }
                for a in card.attributes
            ],
        }


def train_scorecard(
    engine: RiskEngine,
    as_of: date,
    horizon_days: int,
    version: str,
    path: Path,
    oot_as_of: date | None = None,
    description: str = "",
) -> Trained:
    """Train on the population as of `as_of`, measure out of time as of `oot_as_of` (default: as_of + horizon).

    The out-of-time metrics are recorded only when the store's events reach
    the end of that window's horizon; the training window's must.
    """
    oot = oot_as_of or as_of + timedelta(days=horizon_days)
    population = Population()
    windows = [Window(as_of, horizon_days), Window(oot, horizon_days)]
    observed = observe(feature_states(engine), windows, population, PLATFORM_ZONE)
    training, later = observed.samples
    latest = _evidence(engine, observed.latest, PLATFORM_ZONE)
    check_complete(training, latest, PLATFORM_ZONE)
    try:
        check_complete(later, latest, PLATFORM_ZONE)
        measured = True
    except CensoredLabels:
        measured = False  # the window is recorded; its metrics wait for `score evaluate`
    spec = TrainSpec(version=version, description=description, population=population)
    scorecard = train(spec, training, later, measured)
    return Trained(scorecard, path, files.write(scorecard, path))


def _evidence(engine: RiskEngine, latest: datetime | None, zone: ZoneInfo) -> datetime | None:
    """How far the store's events reach: its latest account fact, or the end of the last day billing closed."""
    closed = engine.clock().business_date
    if closed is None:
        return latest
    end = end_of_day(closed, zone)
    return end if latest is None or end > latest else latest


def evaluate_scorecard(
    engine: RiskEngine, scorecard: Scorecard, as_of: date | None = None, horizon_days: int | None = None
) -> Evaluation:
    """AUC, KS and the days-past-due baseline on a window (default: the scorecard's out-of-time window)."""
    window = Window(as_of or scorecard.out_of_time.as_of, horizon_days or scorecard.out_of_time.horizon_days)
    zone = ZoneInfo(scorecard.zone)
    observed = observe(feature_states(engine), [window], scorecard.population, zone)
    check_complete(observed.samples[0], _evidence(engine, observed.latest, zone), zone)
    return evaluate(scorecard, observed.samples[0])


def explain_account(engine: RiskEngine, scorecard: Scorecard, account_id: str, as_of: date | None) -> dict[str, Any]:
    """The account's score as of the end of `as_of` (default: the platform's last closed day) and its parts."""
    zone = ZoneInfo(scorecard.zone)
    state = next(feature_states(engine, [account_id]))
    day = as_of or engine.clock().business_date or (state.facts[-1][0].astimezone(zone).date() if state.facts else None)
    if day is None:
        raise LookupError(f"account {account_id!r} has no facts to score")
    features = state.features(end_of_day(day, zone))
    if features is None:
        raise LookupError(f"account {account_id!r} was not opened by {day}")
    return explanation(scorecard, account_id, day, scorecard.score(features))


def explanation(scorecard: Scorecard, account_id: str, day: date, score: Score) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "scorecard": scorecard.version,
        "as_of": day.isoformat(),
        "score": score.points,
        "base_points": score.base_points,
        "probability": str(score.probability),
        "tier": score.tier,
        "contributions": [
            {
                "attribute": c.attribute,
                "value": None if c.value is None else str(c.value) if not isinstance(c.value, int) else c.value,
                "bin": c.bin,
                "points": c.points,
                "below_best": c.shortfall,
            }
            for c in score.contributions
        ],
        "reasons": list(score.reasons),
    }


def monitor_scorecard(engine: RiskEngine, scorecard: Scorecard, until: date | None = None) -> Report:
    """Monthly stability from the training as-of to `until` (default: the platform's last closed day)."""
    end = until or engine.clock().business_date
    if end is None:
        raise LookupError("the store has no closed business day yet: nothing to monitor")
    return monitor(scorecard, feature_states(engine), end)
