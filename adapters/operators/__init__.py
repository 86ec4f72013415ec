"""Operators' actions on the store: held locks, reviews, bulk undo, the clock (adapters.operators.service)."""
