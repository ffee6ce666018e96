"""The drift gate's evidence for FID and KID: the difference over its paired-swap null SD.

    worsening = worse_sign * (metric(current) - metric(baseline))
    z = (worsening - margin) / SD over ``SWAPS`` re-assignments of the same difference

Why this and not a Monte Carlo p-value: on a real model (examples/digits_suite,
benchmarks/bench_drift_real.py) the null of a paired FID difference is a smooth sum over every
swap, near-normal, so its SD from 40 draws pins the tail as well as 800 draws pin a p-value,
at a twentieth of the cost; and a z is what a group-sequential design (``stats.sequential``)
needs at each look. Per-image scores (k-NN distance, Mahalanobis, classifier confidence) were
measured on the same benchmark and rejected: a regression such as fewer sampling steps makes
images *more* typical, so they lose the sign.

Re-assignment: with ``paired`` (baseline row i and current row i come from seed i) each pair is
swapped with probability 1/2, which keeps the seed structure, so a change is judged against
how much the *changes* vary rather than how much seeds vary; otherwise the pooled rows are
re-split at random (an unpaired permutation). Units: the metric's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .drift import reassignment

SWAPS = 40  # re-assignments behind the null SD: its relative error is about 1 / sqrt(2 * 40) = 11 %


def swap_null_sd(
    statistic: Callable[[np.ndarray], float], n: int, *, paired: bool, swaps: int = SWAPS, seed: int = 0
) -> float:
    """SD of ``statistic(current side) - statistic(baseline side)`` over random re-assignments.

    ``statistic(indices)`` is the metric of the pooled rows at ``indices``; the pool holds the n
    baseline rows first, then the n current rows.
    """
    if n < 2:
        raise ValueError(f"n: need at least 2 rows per side, got {n}")
    if swaps < 2:
        raise ValueError(f"swaps: need at least 2 re-assignments for an SD, got {swaps}")
    rng = np.random.default_rng(seed)
    draws = np.empty(swaps)
    for i in range(swaps):
        current, baseline = reassignment(rng, n, 2 * n, paired=paired)
        draws[i] = statistic(current) - statistic(baseline)
    return float(np.std(draws, ddof=1))


def normal_upper_tail(z: float) -> float:
    """P(N(0, 1) >= z)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True)
class SwapZ:
    """One look of the swap-z evidence: ``z`` for "worse by more than the margin", ``z_better`` the
    same for an improvement; ``null_sd`` in metric units (0 when the two sides are identical)."""

    observed: float
    worsening: float
    margin: float
    null_sd: float
    n: int

    @property
    def z(self) -> float:
        return _ratio(self.worsening - self.margin, self.null_sd)

    @property
    def z_better(self) -> float:
        return _ratio(-self.worsening - self.margin, self.null_sd)


def _ratio(excess: float, sd: float) -> float:
    if sd > 0:
        return excess / sd
    return math.inf if excess > 0 else -math.inf  # identical sides: no noise, the sign decides


def swap_z(
    baseline,
    current,
    make_statistic: Callable[[np.ndarray], Callable[[np.ndarray], float]],
    *,
    worse_sign: int,
    margin: float,
    paired: bool,
    swaps: int = SWAPS,
    seed: int = 0,
) -> SwapZ:
    """The swap-z of ``current`` [n, d] against ``baseline`` [n, d] (rows of equal n).

    ``make_statistic(pooled)`` returns ``statistic(indices)`` as for ``margin_test``. A change
    whose |worsening| is inside the margin needs no null (its z is <= 0 whatever the SD), so
    the SD is only computed when the worsening or the improvement exceeds the margin.
    """
    baseline = np.asarray(baseline, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    if baseline.ndim != 2 or current.shape != baseline.shape:
        raise ValueError(
            f"baseline, current: expected two [n, d] arrays of one shape, got {baseline.shape} and {current.shape}"
        )
    if worse_sign not in (1, -1):
        raise ValueError(f"worse_sign: expected +1 or -1, got {worse_sign!r}")
    if not (isinstance(margin, (int, float, np.floating)) and np.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin: expected a finite number >= 0 in the metric's units, got {margin!r}")
    n = baseline.shape[0]
    statistic = make_statistic(np.concatenate([baseline, current]))
    index = np.arange(2 * n)
    observed = float(statistic(index[n:]) - statistic(index[:n]))
    worsening = worse_sign * observed
    null_sd = 0.0
    if abs(worsening) > margin:
        null_sd = swap_null_sd(statistic, n, paired=paired, swaps=swaps, seed=seed)
    return SwapZ(observed, worsening, float(margin), null_sd, n)
