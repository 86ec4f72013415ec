"""AUC and KS computed exactly, checked against brute force; PSI and its alert levels."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.scoring import metrics

scored = st.lists(st.tuples(st.integers(-5, 5), st.booleans()), min_size=1, max_size=60)


def brute_auc(pairs: list[tuple[int, bool]]) -> float:
    """Every (positive, negative) pair: 1 if the positive is riskier, 1/2 if tied."""
    positives = [r for r, y in pairs if y]
    negatives = [r for r, y in pairs if not y]
    if not positives or not negatives:
        return 0.5
    total = sum(
        Fraction(1) if p > n else Fraction(1, 2) if p == n else Fraction(0) for p in positives for n in negatives
    )
    return float(total / (len(positives) * len(negatives)))


def brute_ks(pairs: list[tuple[int, bool]]) -> float:
    positives = sum(1 for _, y in pairs if y)
    negatives = len(pairs) - positives
    if not positives or not negatives:
        return 0.0
    best = Fraction(0)
    for threshold in {r for r, _ in pairs}:
        tp = sum(1 for r, y in pairs if y and r >= threshold)
        fp = sum(1 for r, y in pairs if not y and r >= threshold)
        best = max(best, abs(Fraction(tp, positives) - Fraction(fp, negatives)))
    return float(best)


@settings(max_examples=300)
@given(scored)
def test_auc_counts_every_pair_and_ties_half(pairs: list[tuple[int, bool]]) -> None:
    risks, labels = [r for r, _ in pairs], [y for _, y in pairs]
    assert metrics.auc(risks, labels) == brute_auc(pairs)


@settings(max_examples=300)
@given(scored)
def test_ks_is_the_largest_gap_over_thresholds(pairs: list[tuple[int, bool]]) -> None:
    risks, labels = [r for r, _ in pairs], [y for _, y in pairs]
    assert metrics.ks(risks, labels) == brute_ks(pairs)


def test_auc_of_a_perfect_a_reversed_and_an_all_tied_ranking() -> None:
    labels = [False, False, True, True]
    assert metrics.auc([1, 2, 3, 4], labels) == 1.0
    assert metrics.auc([4, 3, 2, 1], labels) == 0.0
    assert metrics.auc([7, 7, 7, 7], labels) == 0.5


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift() -> None:
    expected = [0.25, 0.25, 0.25, 0.25]
    assert metrics.psi(expected, expected) == 0.0
    small = metrics.psi(expected, [0.3, 0.25, 0.25, 0.2])
    large = metrics.psi(expected, [0.7, 0.1, 0.1, 0.1])
    assert 0 < small < metrics.WATCH <= metrics.ACT < large
    assert math.isclose(small, 0.05 * math.log(0.3 / 0.25) - 0.05 * math.log(0.2 / 0.25))
    assert metrics.psi([0.5, 0.5], [1.0, 0.0]) < math.inf  # an empty bin counts as a tiny share


def test_alert_levels_are_the_conventional_ones() -> None:
    assert [metrics.alert(x) for x in (0.0, 0.099, 0.1, 0.249, 0.25, 3.0)] == [
        "stable",
        "stable",
        "watch",
        "watch",
        "act",
        "act",
    ]
