"""Weight-of-evidence binning: covering, monotonic where the risk is, at most six bins, deterministic."""

from __future__ import annotations

import random
from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.scoring.binning import MAX_BINS, MIN_SHARE, bin_attribute


def population(seed: int, n: int = 4000) -> tuple[list[int], list[bool]]:
    """Risk rises with the value, but noisily (raw bad rates are not monotonic)."""
    rng = random.Random(seed)
    values = [rng.randrange(0, 60) for _ in range(n)]
    labels = [rng.random() < 0.05 + v / 200 + (0.1 if v % 7 == 0 else 0) for v in values]
    return values, labels


def test_ascending_risk_gives_rising_bad_rates_and_falling_woe() -> None:
    values, labels = population(1)
    binning = bin_attribute("days_past_due", values, labels, "ascending", nullable=False)
    rates = [b.bads / b.accounts for b in binning.buckets]
    assert rates == sorted(rates)
    woes = [binning.woe(b) for b in binning.buckets]
    assert woes == sorted(woes, reverse=True)
    assert 2 <= len(binning.buckets) <= MAX_BINS
    assert all(b.accounts >= MIN_SHARE * len(values) for b in binning.buckets)
    assert binning.information_value > 0.1


def test_descending_risk_gives_falling_bad_rates() -> None:
    values, labels = population(2)
    binning = bin_attribute("on_time_streak", [-v for v in values], labels, "descending", nullable=False)
    rates = [b.bads / b.accounts for b in binning.buckets]
    assert rates == sorted(rates, reverse=True)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=1, max_size=300), st.booleans())
def test_buckets_cover_every_value_once_and_count_every_account(pairs: list[tuple[int, bool]], nullable: bool) -> None:
    values: list[int | Decimal | None] = [Decimal(v) / 8 for v, _ in pairs]
    labels = [y for _, y in pairs]
    binning = bin_attribute("utilisation", values, labels, "ascending", nullable=nullable)
    ranges = [b for b in binning.buckets if not b.missing]
    assert ranges[0].lower is None and ranges[-1].upper is None
    assert all(left.upper == right.lower for left, right in pairwise(ranges))
    assert sum(b.accounts for b in binning.buckets) == len(values)
    assert sum(b.bads for b in binning.buckets) == sum(labels)
    for value, label in zip(values, labels, strict=True):
        bucket = binning.buckets[binning.index(value)]
        assert bucket.accounts > 0 and (bucket.bads > 0 or not label)
    assert any(b.missing for b in binning.buckets) == nullable


def test_the_same_population_gives_the_same_bins() -> None:
    values, labels = population(3)
    first = bin_attribute("utilisation", values, labels, "ascending", nullable=False)
    again = bin_attribute("utilisation", list(values), list(labels), "ascending", nullable=False)
    assert first == again


def test_absent_values_get_a_bin_of_their_own_with_no_evidence_when_empty() -> None:
    binning = bin_attribute("promise_kept_rate", [None] * 50, [i % 5 == 0 for i in range(50)], "descending", True)
    empty = [b for b in binning.buckets if not b.missing]
    assert len(empty) == 1 and empty[0].accounts == 0 and binning.woe(empty[0]) == 0.0
    assert binning.buckets[binning.index(None)].accounts == 50
    assert binning.information_value < 0.02
