"""Exact ranking metrics and the population stability index, without a modelling library.

AUC is the Mann-Whitney statistic with ties counted half (what
`sklearn.metrics.roc_auc_score` computes), KS the largest gap between the
cumulative shares of positives and negatives over the distinct risk values.
Both group equal risks, so the result does not depend on input order.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from fractions import Fraction

WATCH, ACT = 0.1, 0.25  # the conventional PSI alert levels
PSI_FLOOR = 0.0001  # an empty bin counts as this share (the index is infinite otherwise)


def _groups(risks: Iterable[float | int], labels: Iterable[bool]) -> tuple[list[tuple[int, int]], int, int]:
    """(positives, negatives) per distinct risk, lowest risk first; and the totals."""
    counts: dict[float | int, list[int]] = defaultdict(lambda: [0, 0])
    for risk, label in zip(risks, labels, strict=True):
        counts[risk][0 if label else 1] += 1
    groups = [(p, n) for _, (p, n) in sorted(counts.items())]
    return groups, sum(p for p, _ in groups), sum(n for _, n in groups)


def auc(risks: Sequence[float | int], labels: Sequence[bool]) -> float:
    """P(a random positive is ranked riskier than a random negative), ties half; 0.5 without both classes."""
    groups, positives, negatives = _groups(risks, labels)
    if not positives or not negatives:
        return 0.5
    below = 0  # negatives at lower risk
    twice_u = 0
    for p, n in groups:
        twice_u += 2 * p * below + p * n
        below += n
    return float(Fraction(twice_u, 2 * positives * negatives))


def ks(risks: Sequence[float | int], labels: Sequence[bool]) -> float:
    """max |share of positives - share of negatives| at or above each risk threshold."""
    groups, positives, negatives = _groups(risks, labels)
    if not positives or not negatives:
        return 0.0
    best = Fraction(0)
    seen_p = seen_n = 0
    for p, n in reversed(groups):  # from the riskiest down
        seen_p += p
        seen_n += n
        best = max(best, abs(Fraction(seen_p, positives) - Fraction(seen_n, negatives)))
    return float(best)


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two distributions over the same bins (shares)."""
    total = 0.0
    for share_e, share_a in zip(expected, actual, strict=True):
        e, a = max(share_e, PSI_FLOOR), max(share_a, PSI_FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def shares(counts: Sequence[int]) -> list[float]:
    n = sum(counts)
    return [c / n if n else 0.0 for c in counts]


def alert(index: float) -> str:
    """stable below 0.1, watch from 0.1, act from 0.25."""
    if index >= ACT:
        return "act"
    if index >= WATCH:
        return "watch"
    return "stable"
