"""Weight-of-evidence binning, monotonic where the risk is, in plain Python.

For one attribute: fine bins at the distinct values (or at 5% quantiles when
there are many), merged until each holds at least 2% of the accounts, then
merged until the bad rate moves one way along the values (the attribute's
trend: days past due and utilisation raise risk, an on-time streak lowers it),
then merged down to at most six bins, always joining the two neighbours whose
weights of evidence are closest. Every step is deterministic (ties go to the
leftmost pair), cut points are values the data holds (exact Decimals).

WoE = ln(share of the good accounts in the bin / share of the bad), with half
an account added to each count of a filled bin so an all-good bin stays finite
(an empty bin has WoE 0: no evidence); IV = the sum
over bins of (good share - bad share) * WoE.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Literal

Trend = Literal["ascending", "descending", "none"]
Number = int | Decimal

FINE_BINS = 20
MIN_SHARE = 0.02
MAX_BINS = 6
SMOOTHING = 0.5


@dataclass(frozen=True)
class Bucket:
    """Values in [lower, upper) (None: unbounded), or the absent values when `missing`."""

    lower: Number | None
    upper: Number | None
    goods: int
    bads: int
    missing: bool = False

    @property
    def accounts(self) -> int:
        return self.goods + self.bads

    def merged(self, right: Bucket) -> Bucket:
        return Bucket(self.lower, right.upper, self.goods + right.goods, self.bads + right.bads)

    def rate(self) -> float:
        return (self.bads + SMOOTHING) / (self.accounts + 2 * SMOOTHING)


@dataclass(frozen=True)
class Binning:
    attribute: str
    trend: Trend
    buckets: list[Bucket]  # ranges ascending, then the missing bucket if any
    goods: int
    bads: int

    def _shares(self, bucket: Bucket) -> tuple[float, float]:
        """(good share, bad share) of a bucket, each count smoothed by half an account over the filled buckets."""
        k = sum(1 for b in self.buckets if b.accounts)
        good = (bucket.goods + SMOOTHING) / (self.goods + SMOOTHING * k)
        bad = (bucket.bads + SMOOTHING) / (self.bads + SMOOTHING * k)
        return good, bad

    def woe(self, bucket: Bucket) -> float:
        """0 for an empty bucket: no evidence either way."""
        if not bucket.accounts:
            return 0.0
        good, bad = self._shares(bucket)
        return math.log(good / bad)

    @property
    def information_value(self) -> float:
        total = 0.0
        for bucket in self.buckets:
            if bucket.accounts:
                good, bad = self._shares(bucket)
                total += (good - bad) * math.log(good / bad)
        return total

    def index(self, value: Number | None) -> int:
        for i, bucket in enumerate(self.buckets):
            if bucket.missing or value is None:
                if bucket.missing and value is None:
                    return i
                continue
            if (bucket.lower is None or value >= bucket.lower) and (bucket.upper is None or value < bucket.upper):
                return i
        raise ValueError(f"{self.attribute}: no bucket for the value")


def bin_attribute(
    attribute: str, values: Sequence[Number | None], labels: Sequence[bool], trend: Trend, nullable: bool
) -> Binning:
    """The binning of one attribute over a labelled population (True: bad)."""
    present = [(v, y) for v, y in zip(values, labels, strict=True) if v is not None]
    absent = [y for v, y in zip(values, labels, strict=True) if v is None]
    ranges = _fine(present)
    ranges = _merge_small(ranges, max(1, math.ceil(MIN_SHARE * len(values))))
    if trend != "none":
        ranges = _monotonic(ranges, trend)
    goods = sum(1 for y in labels if not y)
    bads = len(labels) - goods
    while len(ranges) > MAX_BINS:
        ranges = _merge_closest(ranges, goods, bads)
    buckets = list(ranges)
    if nullable or absent:
        buckets.append(Bucket(None, None, sum(1 for y in absent if not y), sum(absent), missing=True))
    return Binning(attribute, trend, buckets, goods, bads)


def _fine(present: list[tuple[Number, bool]]) -> list[Bucket]:
    """One bucket per distinct value, or per 5% quantile when there are more than FINE_BINS values."""
    counts: Counter[Number] = Counter(v for v, _ in present)
    bad_counts: Counter[Number] = Counter(v for v, y in present if y)
    distinct = sorted(counts)
    if not distinct:
        return [Bucket(None, None, 0, 0)]
    if len(distinct) <= FINE_BINS:
        cuts = distinct[1:]
    else:
        ordered = sorted(v for v, _ in present)
        cuts = sorted({ordered[len(ordered) * q // FINE_BINS] for q in range(1, FINE_BINS)} - {distinct[0]})
    bounds: list[Number | None] = [None, *cuts, None]
    buckets = []
    position = 0
    for lower, upper in pairwise(bounds):
        goods = bads = 0
        while position < len(distinct) and (upper is None or distinct[position] < upper):
            value = distinct[position]
            bads += bad_counts[value]
            goods += counts[value] - bad_counts[value]
            position += 1
        buckets.append(Bucket(lower, upper, goods, bads))
    return buckets


def _merge_at(buckets: list[Bucket], i: int) -> list[Bucket]:
    """Buckets i and i+1 as one."""
    return [*buckets[:i], buckets[i].merged(buckets[i + 1]), *buckets[i + 2 :]]


def _merge_small(buckets: list[Bucket], least: int) -> list[Bucket]:
    """Join every bucket under `least` accounts to the neighbour whose bad rate is closest."""
    while len(buckets) > 1:
        small = [i for i, b in enumerate(buckets) if b.accounts < least]
        if not small:
            return buckets
        i = min(small, key=lambda j: (buckets[j].accounts, j))
        if i == 0:
            buckets = _merge_at(buckets, 0)
        elif i == len(buckets) - 1:
            buckets = _merge_at(buckets, i - 1)
        else:
            left = abs(buckets[i - 1].rate() - buckets[i].rate())
            right = abs(buckets[i + 1].rate() - buckets[i].rate())
            buckets = _merge_at(buckets, i - 1 if left <= right else i)
    return buckets


def _monotonic(buckets: list[Bucket], trend: Trend) -> list[Bucket]:
    """Join neighbours until the bad rate rises (ascending) or falls (descending) along the values."""
    sign = 1 if trend == "ascending" else -1
    while True:
        for i in range(len(buckets) - 1):
            if sign * (buckets[i + 1].rate() - buckets[i].rate()) < 0:
                buckets = _merge_at(buckets, i)
                break
        else:
            return buckets


def _merge_closest(buckets: list[Bucket], goods: int, bads: int) -> list[Bucket]:
    """Join the two neighbours whose weights of evidence are closest."""
    probe = Binning("", "none", buckets, goods, bads)
    gaps = [abs(probe.woe(buckets[i + 1]) - probe.woe(buckets[i])) for i in range(len(buckets) - 1)]
    return _merge_at(buckets, gaps.index(min(gaps)))
