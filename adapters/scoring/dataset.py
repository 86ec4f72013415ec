"""Evaluation populations from the store: features as of a date, and the label over a horizon.

Each account's recorded facts (the canonical inbound events of its stream)
go into the engine's `FeatureState`; one pass per account gives the features
at every instant asked for and whether the account reached 30+ days past due
in each window. The population at an as-of date is the accounts at least 3
months on book and under 30 days past due then (the scorecard's
`Population`). Accounts are read a chunk at a time and kept only as their
features, so memory follows the number of accounts, not of events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.application import RiskEngine
from engine.scoring.features import Features, FeatureState, end_of_day
from engine.scoring.scorecard import Population
from events.inbound import load_object


@dataclass(frozen=True)
class Window:
    """A population as of the end of `as_of`, labelled over the next `horizon_days` (0: no label)."""

    as_of: date
    horizon_days: int = 0

    def instants(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        start = end_of_day(self.as_of, zone)
        return start, start + timedelta(days=self.horizon_days)


@dataclass
class Sample:
    """The accounts of a window's population, their features and labels (True: reached the label)."""

    window: Window
    account_ids: list[str] = field(default_factory=list)
    features: list[Features] = field(default_factory=list)
    labels: list[bool] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)  # reason -> accounts left out

    @property
    def positives(self) -> int:
        return sum(self.labels)


@dataclass
class Observed:
    """Samples per window, and the latest event time seen (labels after it would be censored)."""

    samples: list[Sample]
    latest: datetime | None


def feature_states(engine: RiskEngine, account_ids: Iterable[str] | None = None) -> Iterator[FeatureState]:
    """Each account's FeatureState, fed with its recorded facts in recording order."""
    ids = engine.account_ids() if account_ids is None else list(account_ids)
    for account_id, states in engine.recorded_histories(ids):
        state = FeatureState(account_id)
        for recorded in states:
            state.add(load_object(recorded["fact"]))
        yield state


def observe(
    states: Iterable[FeatureState], windows: Sequence[Window], population: Population, zone: ZoneInfo
) -> Observed:
    """The population of each window (features, and labels where the window has a horizon)."""
    samples = [Sample(window) for window in windows]
    spans = [window.instants(zone) for window in windows]
    order = sorted(range(len(windows)), key=lambda i: spans[i][0])
    latest: datetime | None = None
    for state in states:
        if state.facts:
            last = state.facts[-1][0]
            latest = last if latest is None or last > latest else latest
        found = state.features_at([spans[i][0] for i in order])
        for i, features in zip(order, found, strict=True):
            sample, (start, end) = samples[i], spans[i]
            reason = "not opened" if features is None else _excluded(features, population)
            if features is None or reason is not None:
                sample.excluded[reason or "not opened"] += 1
                continue
            sample.account_ids.append(state.account_id)
            sample.features.append(features)
            sample.labels.append(
                windows[i].horizon_days > 0 and state.reached(population.label_days_past_due, start, end)
            )
    return Observed(samples, latest)


def _excluded(features: Features, population: Population) -> str | None:
    if features.months_on_book < population.min_months_on_book:
        return f"under {population.min_months_on_book} months on book"
    if features.days_past_due > population.max_days_past_due:
        return f"{population.max_days_past_due + 1}+ days past due"
    return None


class CensoredLabels(ValueError):
    """A window's horizon ends after the latest event the store holds."""


def check_complete(sample: Sample, latest: datetime | None, zone: ZoneInfo) -> None:
    """Refuse labels whose horizon the store has not reached yet (they would all look good)."""
    if sample.window.horizon_days <= 0:
        return
    _, end = sample.window.instants(zone)
    if latest is None or latest < end:
        seen = latest.date().isoformat() if latest else "no events"
        raise CensoredLabels(
            f"--as-of {sample.window.as_of} with --horizon-days {sample.window.horizon_days} needs events "
            f"up to {end.date()}; the store's latest is {seen}"
        )
