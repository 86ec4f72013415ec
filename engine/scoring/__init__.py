"""The default-probability scorecard: features as of a point in event time, and applying a scorecard.

Pure domain code (no I/O, no wall clock, no modelling library), so the engine
can score inside a decision and an offline command gets the same numbers.
Training lives in `adapters/scoring/`.
"""
