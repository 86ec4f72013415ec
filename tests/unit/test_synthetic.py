"""The synthetic portfolios: the benchmark's stays byte for byte what it was; the demo's is seeded too."""

from __future__ import annotations

import hashlib

import orjson

from adapters.synthetic.latent import LatentPortfolio
from adapters.synthetic.portfolio import Portfolio

# sha256 of the first 40,000 events of Portfolio(3000, 100_000, seed 7), one orjson line each, as
# benchmarks/workload.py writes them. If this changes, the benchmark's workload changed: every figure
# in docs/benchmarks.md stops being comparable. Say what changed there before updating the digest.
BENCHMARK_DIGEST = "a598ed92a1f50521ab33b5109a213dc817767b7d122295fed6fea0998cc69f87"


def digest(portfolio: Portfolio, limit: int) -> str:
    sha = hashlib.sha256()
    count = 0
    for day in portfolio.days_of_events():
        for event in day[: limit - count]:
            sha.update(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
        count = min(limit, count + len(day))
        if count >= limit:
            break
    return sha.hexdigest()


def test_the_benchmark_workload_is_unchanged() -> None:
    assert digest(Portfolio(3000, 100_000, 7), 40_000) == BENCHMARK_DIGEST


def test_the_latent_portfolio_gives_the_same_bytes_for_the_same_seed_and_others_for_another() -> None:
    first = digest(LatentPortfolio(150, 200, 11, noise=True), 10**9)
    assert digest(LatentPortfolio(150, 200, 11, noise=True), 10**9) == first
    assert digest(LatentPortfolio(150, 200, 12, noise=True), 10**9) != first


def test_no_event_carries_the_latent_risk() -> None:
    fields: set[str] = set()
    for event in LatentPortfolio(200, 120, 3).events():
        fields.update(event)
        fields.update(event["data"])
    assert not any("risk" in name or "profile" in name for name in fields)
