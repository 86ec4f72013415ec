"""Wiring: a store URL and a policy name in, a ready engine out."""

from __future__ import annotations

from adapters.store.sqlite.events import engine_env, store_url
from engine.application import RiskEngine
from engine.policy import DEFAULT_POLICY, load_policy


def open_engine(store: str | None = None, policy: str = DEFAULT_POLICY, cache_size: int = 20_000) -> RiskEngine:
    return RiskEngine(load_policy(policy), env=engine_env(store_url(store)), cache_size=cache_size)
