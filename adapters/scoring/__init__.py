"""Training, evaluating and monitoring the default-probability scorecard (offline commands).

Reads the store through `RiskEngine.recorded_histories`, computes features
with the engine's own fold (`engine.scoring.features`) and writes scorecard
files that `engine.scoring.scorecard` applies. The modelling library
(scikit-learn) is imported by `train` only, never by the engine.
"""
