"""Applying a scorecard: bins, exact points, probability by base odds and PDO, tiers, reason codes, the file."""

from __future__ import annotations

import decimal
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.scoring import files
from engine.scoring.features import ATTRIBUTES, Features
from engine.scoring.scorecard import Scorecard, dump_scorecard, load_scorecard, parse_scorecard

FEATURES = Features(
    days_past_due=0,
    worst_days_past_due_12m=0,
    overdue_episodes_12m=0,
    utilisation=Decimal("0.1000"),
    on_time_streak=4,
    months_on_book=6,
    broken_plans_12m=0,
    reversals_12m=0,
    promise_kept_rate=None,
)


def bins(*specs: tuple[Any, Any, int], missing: int | None = None) -> list[dict[str, Any]]:
    out = [
        {
            "label": f"{lower}..{upper}",
            "lower": lower,
            "upper": upper,
            "points": points,
            "woe": "0",
            "accounts": 10,
            "positives": 1,
            "share": "0.1",
        }
        for lower, upper, points in specs
    ]
    if missing is not None:
        out.append(
            {
                "label": "none",
                "missing": True,
                "points": missing,
                "woe": "0",
                "accounts": 0,
                "positives": 0,
                "share": "0",
            }
        )
    return out


def card(**changes: Any) -> dict[str, Any]:
    attributes = {name: bins((None, None, 0)) for name in ATTRIBUTES}
    attributes["days_past_due"] = bins((None, "1", 30), ("1", "8", 10), ("8", None, -25))
    attributes["utilisation"] = bins((None, "0.3", 20), ("0.3", "0.8", 5), ("0.8", None, -10))
    attributes["on_time_streak"] = bins((None, "3", -5), ("3", None, 12))
    attributes["promise_kept_rate"] = bins((None, None, 0), missing=0)
    body: dict[str, Any] = {
        "version": "test-1",
        "scaling": {"base_score": 600, "base_odds": "50", "pdo": 20},
        "base_points": 540,
        "attributes": [
            {"name": n, "trend": "none", "coefficient": "-1", "information_value": "0.1", "bins": b}
            for n, b in attributes.items()
        ],
        "tiers": [
            {"name": "A", "max_probability": "0.02"},
            {"name": "B", "max_probability": "0.1"},
            {"name": "C", "max_probability": None},
        ],
        "score_bands": [],
        "training": {"as_of": "2026-07-01", "horizon_days": 90},
        "out_of_time": {"as_of": "2026-09-29", "horizon_days": 90},
        "metrics": {"training": {"auc": 0.8, "ks": 0.5, "baseline_auc": 0.7}},
    }
    body.update(changes)
    return body


SCORECARD = Scorecard.model_validate(card())


def test_points_sum_exactly_to_the_score_and_name_their_bins() -> None:
    score = SCORECARD.score(FEATURES)
    assert score.points == 540 + 30 + 20 + 12 == score.base_points + sum(c.points for c in score.contributions)
    parts = {c.attribute: (c.bin, c.points) for c in score.contributions}
    assert parts["days_past_due"] == ("None..1", 30)
    assert parts["utilisation"] == ("None..0.3", 20)
    assert parts["promise_kept_rate"] == ("none", 0)  # absent: the bin of an absent value


def test_bin_edges_are_lower_inclusive_upper_exclusive() -> None:
    attribute = SCORECARD.attribute("days_past_due")
    assert [attribute.bin_of(v).points for v in (0, 1, 7, 8, 10_000)] == [30, 10, 10, -25, -25]
    utilisation = SCORECARD.attribute("utilisation")
    assert [utilisation.bin_of(Decimal(v)).points for v in ("0.2999", "0.3", "0.8", "1.5")] == [20, 5, -10, -10]


def test_probability_follows_base_odds_and_points_to_double_the_odds() -> None:
    at_base = SCORECARD.probability(600)
    assert at_base == Decimal("0.019608")  # odds 50:1 -> 1/51
    assert SCORECARD.probability(620) == Decimal("0.009901")  # odds 100:1 -> 1/101
    assert SCORECARD.probability(580) == Decimal("0.038462")  # odds 25:1 -> 1/26
    assert SCORECARD.tier(at_base) == "A" and SCORECARD.tier(Decimal("0.02")) == "B"
    assert SCORECARD.tier(Decimal("0.5")) == "C"


def test_reason_codes_are_the_attributes_furthest_below_their_best_bin() -> None:
    risky = replace(FEATURES, days_past_due=12, utilisation=Decimal("0.5"), on_time_streak=0)
    score = SCORECARD.score(risky)
    assert score.reasons == ("days_past_due", "on_time_streak", "utilisation")  # 55, 17, 15 points below best
    assert SCORECARD.score(FEATURES).reasons == ()  # every attribute in its best bin


def test_the_same_features_give_the_same_score_whatever_the_decimal_context() -> None:
    expected = SCORECARD.score(FEATURES)
    with decimal.localcontext() as context:
        context.prec = 5
        context.rounding = decimal.ROUND_FLOOR
        assert SCORECARD.score(FEATURES) == expected


@pytest.mark.parametrize(
    "attribute_bins",
    [
        bins((None, "1", 0), ("2", None, 0)),  # a gap
        bins(("0", "1", 0), ("1", None, 0)),  # no lower end
        bins((None, "1", 0), ("1", "5", 0)),  # no upper end
        bins((None, None, 0), missing=0) + bins((None, None, 0), missing=0)[1:],  # two missing bins
    ],
)
def test_a_scorecard_whose_bins_do_not_cover_every_value_is_refused(attribute_bins: list[dict[str, Any]]) -> None:
    body = card()
    body["attributes"][0]["bins"] = attribute_bins
    with pytest.raises(ValidationError):
        Scorecard.model_validate(body)


def test_tiers_must_ascend_and_end_open() -> None:
    with pytest.raises(ValidationError):
        Scorecard.model_validate(card(tiers=[{"name": "A", "max_probability": "0.1"}]))
    with pytest.raises(ValidationError):
        Scorecard.model_validate(
            card(
                tiers=[
                    {"name": "A", "max_probability": "0.2"},
                    {"name": "B", "max_probability": "0.1"},
                    {"name": "C", "max_probability": None},
                ]
            )
        )


def test_the_file_round_trips_byte_for_byte_and_a_version_is_never_overwritten(tmp_path: Path) -> None:
    text = dump_scorecard(SCORECARD)
    assert dump_scorecard(parse_scorecard(text)) == text
    path = tmp_path / "test-1.json"
    assert files.write(SCORECARD, path) is True
    assert files.write(SCORECARD, path) is False  # the same bytes: nothing to do
    other = SCORECARD.model_copy(update={"base_points": 541})
    with pytest.raises(files.ScorecardExists):
        files.write(other, path)
    assert load_scorecard("test-1", (tmp_path,)) == SCORECARD
    assert load_scorecard(str(path)) == SCORECARD
    with pytest.raises(FileNotFoundError):
        load_scorecard("no-such-card", (tmp_path,))


def test_without_a_name_the_folder_s_latest_trained_scorecard_is_used(tmp_path: Path) -> None:
    later = SCORECARD.model_copy(
        update={"version": "test-2", "training": SCORECARD.training.model_copy(update={"as_of": date(2026, 8, 1)})}
    )
    files.write(later, tmp_path / "test-2.json")
    files.write(SCORECARD, tmp_path / "test-1.json")
    assert files.resolve(None, tmp_path).version == "test-2"
    assert files.resolve("test-1", tmp_path).version == "test-1"
    with pytest.raises(FileNotFoundError):
        files.resolve(None, tmp_path / "empty")


def test_the_shipped_demo_scorecard_loads_and_ranks_a_clean_account_above_a_risky_one() -> None:
    shipped = load_scorecard("pd-demo-v1")
    assert shipped.version == "pd-demo-v1" and [a.name for a in shipped.attributes] == list(ATTRIBUTES)
    risky = replace(FEATURES, days_past_due=20, worst_days_past_due_12m=45, utilisation=Decimal("0.97"))
    clean, bad = shipped.score(FEATURES), shipped.score(risky)
    assert clean.points > bad.points and clean.probability < bad.probability
    assert bad.reasons[0] in {"days_past_due", "utilisation", "worst_days_past_due_12m"}
    assert shipped.metrics["out_of_time"].auc > shipped.metrics["out_of_time"].baseline_auc + 0.05
