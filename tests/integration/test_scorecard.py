"""The scorecard on generated portfolios: it beats the days-past-due baseline, explanations sum, stores agree.

A portfolio whose behaviour comes from a latent risk (adapters/synthetic/latent.py)
is scored in memory (the facts fed to the engine's feature fold as the engine
would record them) and through a real store on every database: the scorecard
trained from the store is the same file, byte for byte, as the one trained in
memory; `score explain` sums to the score for every account; `score evaluate`
with no options reproduces the out-of-time metrics recorded in the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from adapters.scoring.dataset import Window, observe
from adapters.scoring.jobs import evaluate_scorecard, explain_account, train_scorecard
from adapters.scoring.train import TrainSpec, train
from adapters.synthetic.latent import LatentPortfolio
from engine.scoring.features import PLATFORM_ZONE, FeatureState
from engine.scoring.scorecard import Population, dump_scorecard
from events.inbound import DayClosed, parse_event
from tests.support.wiring import open_engine

HORIZON = 120
DAYS = 365
START = date(2026, 3, 2)
AS_OF = START + timedelta(days=DAYS - 1 - 2 * HORIZON)
OOT = AS_OF + timedelta(days=HORIZON)


def in_memory(days: Iterable[list[dict[str, object]]]) -> list[FeatureState]:
    """Each account's facts in the order the engine records them (a day's events, in order)."""
    states: dict[str, FeatureState] = {}
    for day in days:
        for event in day:
            fact = parse_event(orjson.dumps(event)).event
            if not isinstance(fact, DayClosed):
                states.setdefault(fact.account_id, FeatureState(fact.account_id)).add(fact)
    return [states[key] for key in sorted(states)]


def trained_in_memory(portfolio: LatentPortfolio, version: str) -> tuple[bytes, int]:
    states = in_memory(portfolio.days_of_events())
    observed = observe(states, [Window(AS_OF, HORIZON), Window(OOT, HORIZON)], Population(), PLATFORM_ZONE)
    card = train(TrainSpec(version=version), *observed.samples)
    return dump_scorecard(card).encode(), observed.samples[1].positives


def test_the_scorecard_beats_the_days_past_due_baseline_out_of_time() -> None:
    """1,000 accounts, a year: about 200 positives out of time, the margin is far above the noise (~0.03)."""
    states = in_memory(LatentPortfolio(1000, DAYS, seed=21).days_of_events())
    observed = observe(states, [Window(AS_OF, HORIZON), Window(OOT, HORIZON)], Population(), PLATFORM_ZONE)
    training, later = observed.samples
    assert later.positives >= 150 and len(later.labels) - later.positives >= 500
    card = train(TrainSpec(version="margin"), training, later)
    oot = card.metrics["out_of_time"]
    assert oot.auc - oot.baseline_auc > 0.05, oot
    assert oot.ks > 0.3
    used = [a.name for a in card.attributes if a.coefficient != 0]
    assert "days_past_due" in used and len(used) >= 3  # history adds to what the baseline sees
    for attribute in card.attributes:  # a better bin (higher WoE) never costs points
        ranked = sorted(attribute.bins, key=lambda b: b.woe)
        assert [b.points for b in ranked] == sorted(b.points for b in ranked)


def test_the_store_trains_the_same_scorecard_and_explain_sums_for_every_account(store: str, tmp_path: Path) -> None:
    portfolio = LatentPortfolio(250, DAYS, seed=5)
    expected, positives = trained_in_memory(LatentPortfolio(250, DAYS, seed=5), "parity")
    assert positives >= 30
    engine = open_engine(store)
    for day in portfolio.days_of_events():
        engine.process([orjson.dumps(event) for event in day])
    trained = train_scorecard(engine, AS_OF, HORIZON, "parity", tmp_path / "parity.json")
    assert trained.written and (tmp_path / "parity.json").read_bytes() == expected

    card = trained.scorecard
    recorded = card.metrics["out_of_time"]
    again = evaluate_scorecard(engine, card)  # no window given: the one recorded in the file
    assert (again.auc, again.ks, again.baseline_auc, again.psi) == (
        recorded.auc,
        recorded.ks,
        recorded.baseline_auc,
        recorded.psi,
    )
    assert (again.n, again.positives) == (card.out_of_time.accounts, card.out_of_time.positives)

    for account_id in engine.account_ids():
        for day in (AS_OF, None):
            explained = explain_account(engine, card, account_id, day)
            parts = [part["points"] for part in explained["contributions"]]
            assert explained["base_points"] + sum(parts) == explained["score"], account_id
            assert [p["attribute"] for p in explained["contributions"]] == [a.name for a in card.attributes]
            below = sorted(explained["contributions"], key=lambda p: -p["below_best"])
            assert explained["reasons"] == [p["attribute"] for p in below[:3] if p["below_best"] > 0]
    engine.close()


def test_training_refuses_labels_the_store_has_not_reached(tmp_path: Path) -> None:
    engine = open_engine(str(tmp_path / "s.db"))
    for day in LatentPortfolio(60, 200, seed=3).days_of_events():
        engine.process([orjson.dumps(event) for event in day])
    with pytest.raises(ValueError, match="needs events up to"):
        train_scorecard(engine, START + timedelta(days=150), HORIZON, "early", tmp_path / "early.json")
    assert not (tmp_path / "early.json").exists()
    engine.close()
