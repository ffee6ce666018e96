"""Adaptive N for the drift gate: a group-sequential margin test with alpha spending and futility.

    look j = 1..K on the first n_j = j*N seeds (n_K = N_max)  ->  z_j  ->  fail / pass / next block

A check starts with the test's N seeds; while its evidence is undecided it asks for the next
block of N seeds of the same baseline prefix, up to the N_max stored with the baseline. Each
look computes the z of ``stats.swap_z`` (H0: worsening <= margin) on all seeds so far.

Error control across looks (Lan & DeMets 1983): the one-sided level ``alpha`` is spent over the
information fractions t_j = n_j / n_K, a spending function alpha(t) saying how much of it may
be used by t; the efficacy bound c_j is the z that makes P_H0(first crossing at look j) =
alpha(t_j) - alpha(t_{j-1}). Under H0 the z_j are a Brownian motion in information time
(Cov(z_i, z_j) = sqrt(t_i / t_j)), so the bounds are computed by recursive numerical
integration of the continuation density (Armitage, McPherson & Rowe 1969; Jennison & Turnbull
2000, ch. 19), not by simulation. Spending families: Lan-DeMets O'Brien-Fleming
(2 - 2 Phi(z_{1-alpha/2} / sqrt t): little alpha early, final bound near the fixed-N one) and
the power family alpha t^rho (rho = 1: Pocock-like).

Why group-sequential and not an e-value / betting test: N_max and the looks are fixed in
advance (blocks of the baseline prefix), and for a known, small number of looks the alpha-
spending test loses far less power against the fixed-N test than anytime-valid tests do.

Futility (pass early): at looks j < K the check passes when z_j <= ``futility_z`` (default 1:
measured on the digits model, it keeps a healthy model's cost at 1.00-1.25x the fixed-N check
while 12 instead of 20 sampling steps is still caught 20 of 20). It is non-binding: the efficacy bounds are
computed as if it were never applied, so ignoring it (or a user asking for more seeds) keeps
the level; applying it only lowers the false-alarm rate. Under "no change" the z starts near
-margin*sqrt(N)/sd, so a healthy model passes at the first look.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import optimize, special

GRID_STEP = 0.01  # integration grid step on the score scale S = z*sqrt(t); Simpson-free trapezoid, error << 1e-6
GRID_HALF_WIDTH = 12.0  # the grid covers [-12, bound] (score units; t <= 1 so this is >= 12 SDs)


def _phi(x):
    return np.exp(-0.5 * np.asarray(x) ** 2) / math.sqrt(2 * math.pi)


def _upper_tail(x):
    return 0.5 * special.erfc(np.asarray(x) / math.sqrt(2.0))


def obrien_fleming_spending(t, alpha: float):
    """Lan-DeMets O'Brien-Fleming-type spending: 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)), t in (0, 1]."""
    t = np.asarray(t, dtype=np.float64)
    z = special.ndtri(1 - alpha / 2)
    return 2.0 * _upper_tail(z / np.sqrt(t))


def power_spending(rho: float) -> Callable:
    """The power family alpha * t**rho (rho = 1 is Pocock-like, 3 close to O'Brien-Fleming)."""
    if not rho > 0:
        raise ValueError(f"rho: expected > 0, got {rho!r}")
    return lambda t, alpha: alpha * np.asarray(t, dtype=np.float64) ** rho


def _check_fractions(fractions) -> np.ndarray:
    fractions = np.asarray(fractions, dtype=np.float64)
    if (
        fractions.ndim != 1
        or fractions.size < 1
        or not np.all(np.diff(fractions) > 0)
        or fractions[0] <= 0
        or abs(fractions[-1] - 1.0) > 1e-12
    ):
        raise ValueError(f"fractions: expected increasing information fractions in (0, 1] ending at 1, got {fractions}")
    return fractions


class _Recursion:
    """The density of the score S_j = z_j sqrt(t_j) on the paths still running, look by look."""

    def __init__(self, fractions: np.ndarray, drift: float):
        self.fractions, self.drift = fractions, drift
        self.grid = None  # points of the continuation region at the previous look
        self.density = None  # sub-density there (integrates to P(still running))

    def _moved(self, j: int):
        """(mean shift, SD) of the increment from look j-1 to look j."""
        previous = self.fractions[j - 1] if j > 0 else 0.0
        step = self.fractions[j] - previous
        return self.drift * step, math.sqrt(step)

    def upper_crossing(self, j: int, bound_z: float) -> float:
        """P(still running at look j-1 and z_j >= bound_z)."""
        shift, sd = self._moved(j)
        level = bound_z * math.sqrt(self.fractions[j])
        if self.grid is None:
            return float(_upper_tail((level - shift) / sd))
        return float(np.trapezoid(self.density * _upper_tail((level - self.grid - shift) / sd), self.grid))

    def lower_crossing(self, j: int, bound_z: float) -> float:
        """P(still running at look j-1 and z_j <= bound_z)."""
        shift, sd = self._moved(j)
        level = bound_z * math.sqrt(self.fractions[j])
        if self.grid is None:
            return float(_upper_tail(-(level - shift) / sd))
        return float(np.trapezoid(self.density * _upper_tail(-(level - self.grid - shift) / sd), self.grid))

    def advance(self, j: int, upper_z: float, lower_z: float = -math.inf) -> None:
        """Keep the paths with lower_z < z_j < upper_z."""
        shift, sd = self._moved(j)
        root = math.sqrt(self.fractions[j])
        low = max(lower_z * root, -GRID_HALF_WIDTH + self.drift * self.fractions[j])
        high = min(upper_z * root, GRID_HALF_WIDTH + self.drift * self.fractions[j])
        if not high > low:
            self.grid, self.density = np.array([0.0, 0.0]), np.zeros(2)
            return
        grid = np.linspace(low, high, max(3, int(math.ceil((high - low) / GRID_STEP)) + 1))
        if self.grid is None:
            density = _phi((grid - shift) / sd) / sd
        else:
            kernel = _phi((grid[:, None] - self.grid[None, :] - shift) / sd) / sd
            density = np.trapezoid(kernel * self.density[None, :], self.grid, axis=1)
        self.grid, self.density = grid, density


def efficacy_bounds(fractions, *, alpha: float, spending: Callable = obrien_fleming_spending) -> np.ndarray:
    """z bounds c_1..c_K: fail at the first look with z_j >= c_j; P_H0(any crossing) = alpha.

    fractions: information fractions t_j = n_j / n_K (increasing, last 1). spending(t, alpha):
    cumulative alpha spent by t. A look whose spending increment is 0 gets c_j = +inf.
    """
    fractions = _check_fractions(fractions)
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha: expected 0 < alpha < 0.5, got {alpha!r}")
    spent = np.asarray([float(spending(t, alpha)) for t in fractions])
    if not np.all(np.diff(np.concatenate([[0.0], spent])) >= -1e-15) or abs(spent[-1] - alpha) > 1e-9:
        raise ValueError(f"spending: expected a non-decreasing function with spending(1) = alpha, got {spent}")
    recursion = _Recursion(fractions, 0.0)
    bounds, previous = [], 0.0
    for j, total in enumerate(spent):
        target = total - previous
        if target <= 1e-15:
            bound = math.inf
        else:
            bound = optimize.brentq(lambda c: recursion.upper_crossing(j, c) - target, -10.0, 40.0, xtol=1e-10)
        previous += recursion.upper_crossing(j, bound) if math.isfinite(bound) else 0.0
        bounds.append(bound)
        recursion.advance(j, bound)
    return np.asarray(bounds)


@dataclass(frozen=True)
class OperatingCharacteristics:
    """Under a drift theta (the final look's expected z): P(fail), P(pass) by look, expected looks."""

    fail_by_look: np.ndarray
    pass_by_look: np.ndarray

    @property
    def p_fail(self) -> float:
        return float(self.fail_by_look.sum())

    @property
    def expected_looks(self) -> float:
        stops = self.fail_by_look + self.pass_by_look
        return float((np.arange(1, stops.size + 1) * stops).sum() / stops.sum())


@dataclass(frozen=True)
class SequentialDesign:
    """Looks at n_j seeds (cumulative), efficacy bounds (fail when z_j >= c_j) and futility bounds
    (pass when z_j <= f_j at j < K; non-binding, so the level holds with or without them)."""

    looks: tuple[int, ...]
    efficacy: tuple[float, ...]
    futility: tuple[float, ...]
    alpha: float

    def decide(self, look: int, z: float) -> str:
        """ "fail", "pass" or "continue" at look index ``look`` (0-based) for the z of ``margin_z``."""
        if not 0 <= look < len(self.looks):
            raise ValueError(f"look: expected 0..{len(self.looks) - 1}, got {look!r}")
        if z >= self.efficacy[look]:
            return "fail"
        if look == len(self.looks) - 1 or z <= self.futility[look]:
            return "pass"
        return "continue"

    def operating_characteristics(self, drift: float) -> OperatingCharacteristics:
        """P(fail) and P(pass) at each look when the final look's z has mean ``drift`` (binding futility)."""
        fractions = np.asarray(self.looks, dtype=np.float64) / self.looks[-1]
        recursion = _Recursion(fractions, drift)
        fails, passes = [], []
        for j in range(len(self.looks)):
            upper = self.efficacy[j]
            lower = self.futility[j] if j < len(self.looks) - 1 else upper
            fails.append(recursion.upper_crossing(j, upper) if math.isfinite(upper) else 0.0)
            passes.append(recursion.lower_crossing(j, lower) if math.isfinite(lower) else 0.0)
            recursion.advance(j, upper, lower)
        return OperatingCharacteristics(np.asarray(fails), np.asarray(passes))


ADAPTIVE_LOOKS = 4  # N_max = 4 N by default: looks at N, 2N, 3N, 4N
FUTILITY_Z = 1.0  # pass early when z <= 1 (benchmarks/bench_drift_real.py --futility-z)


def make_design(
    n: int,
    n_max: int | None = None,
    *,
    alpha: float,
    spending: Callable = obrien_fleming_spending,
    futility_z: float = FUTILITY_Z,
) -> SequentialDesign:
    """Looks at n, 2n, ... up to n_max (default 4n; a last partial block is a look of its own)."""
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n: expected an int >= 2 (the test's seeds), got {n!r}")
    n_max = ADAPTIVE_LOOKS * n if n_max is None else n_max
    if not isinstance(n_max, (int, np.integer)) or n_max < n:
        raise ValueError(f"n_max: expected an int >= n = {n}, got {n_max!r}")
    looks = tuple(list(range(n, n_max, n)) + [n_max])
    bounds = efficacy_bounds(np.asarray(looks) / n_max, alpha=alpha, spending=spending)
    futility = tuple([float(futility_z)] * (len(looks) - 1) + [float(bounds[-1])])
    return SequentialDesign(looks, tuple(float(b) for b in bounds), futility, alpha)
