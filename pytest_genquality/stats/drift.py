"""The statistics of "is this change more than noise?".

- ``bootstrap_mean_interval``: the 95% interval of a per-sample metric's mean.
- ``margin_test`` / ``margin_bootstrap_test``: the drift gate. They test for a worsening larger
  than a practical ``margin`` (H0: worsening <= margin, H1: worsening > margin), pairing
  baseline row i with current row i when both come from seed i. ``seed_noise_sd`` gives the
  default margin's scale from the baseline rows alone.

Never a naive bootstrap of FID: resampling with replacement duplicates rows, which shrinks
the sample covariance's rank and inflates FID by far more than the seed-to-seed noise.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np


def _small_matrix_threads(pooled_rows: int):
    """One BLAS thread for the many small eigendecompositions of a permutation test.

    On a 64x64 matrix a multi-threaded LAPACK call spends more time waking threads than
    computing (measured here: 1 ms vs 0.16 ms per eigvalsh on a loaded 2-core machine).
    """
    if pooled_rows > 1024:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


@dataclass(frozen=True)
class DriftTest:
    """Outcome of a noise test between a baseline and a current sample.

    ``observed``: current - baseline in the metric's own units; ``p_value``: one-sided, for a
    worsening (``p_better`` the same for an improvement); ``band``: the half-width of the central 95% of the null differences (what
    seed noise alone moves the metric by); ``method`` names the test.
    """

    method: str
    observed: float
    p_value: float
    band: float
    resamples: int
    p_better: float = 1.0

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "observed": self.observed,
            "p_value": self.p_value,
            "p_better": self.p_better,
            "band": self.band,
            "resamples": self.resamples,
        }


def bootstrap_mean_interval(
    values, *, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-sample values."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size < 2:
        raise ValueError(f"values: need >= 2 samples for an interval, got {values.size}")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


# ---- the drift gate: a worsening larger than a margin ------------------------------------------
# Session-wide error control comes from these two (README "The drift gate"): measured on simulated
# features, alpha 0.005 left a same-distribution change failing 4.0 % of sessions of 20 tests x 5
# metrics (3 of 75, 95 % CI [0.8, 11.2] %: 5e-4 per metric, the normal tail beyond 0.75 + 2.58
# SDs); 0.0025 puts the threshold at 0.75 + 2.81 SDs (2e-4 per metric, ~2 % per session) while a
# 1.5-SD mean shift, judged against its narrow paired null, stays caught. A margin of 1 SD instead
# would buy the same, but the baseline-only noise estimate runs up to 1.24x high for FID, and a
# margin of 1.24 true SDs no longer catches a 1.5-SD shift reliably (measured 8 of 20, d=16, N=64).
DRIFT_ALPHA = 0.0025  # one-sided level of each margin test
AUTO_MARGIN_SDS = 0.75  # default margin, in seed-noise SDs
DRIFT_RESAMPLES = 800  # most re-assignments a margin test draws (smallest p 1/801, below DRIFT_ALPHA)
NOISE_RESPLITS = 64  # half-splits behind seed_noise_sd: its relative error is about 1/sqrt(2*64) = 9%


NOISE_MAX_ROWS = 1024  # seed_noise_sd works on at most this many rows (cost bounded whatever N)
NOISE_BOUND_FRACTION = 0.02  # margin_test's noise-SD bound fails at p < alpha times this (alpha/50)
# ... on twice the stored noise SD: one baseline's estimate can sit far below the true SD (in 1500
# simulated baselines, d = 256, N = 128, one came out at 0.54x, and the bound on 1x failed that
# same-distribution change; README "The drift gate")
NOISE_BOUND_SAFETY = 2.0


def seed_noise_sd(
    rows,
    make_statistic: Callable[[np.ndarray], Callable[[np.ndarray], float]],
    *,
    resplits: int = NOISE_RESPLITS,
    max_rows: int = NOISE_MAX_ROWS,
    seed: int = 0,
) -> float:
    """Seed-to-seed SD of ``metric(A) - metric(B)`` for two independent samples of ``len(rows)``.

    Estimated from one sample (the baseline's rows, so it is computed under ``--update-refs``
    and stored with the baseline): split the rows at random into two disjoint halves of n rows,
    take the SD of the metric difference over ``resplits`` splits (the exact seed noise at n),
    and scale it by sqrt(n / N). Beyond ``max_rows`` rows a seeded subset of ``max_rows`` is
    split, so the cost is bounded (64 half-splits of 512 rows: about 3 s CPU for FID at d=2048).
    The sqrt scaling assumes the noise falls like N^-1/2; measured, FID's and the k-NN metrics'
    noise falls faster at N < d (N^-0.6 to N^-0.9), so this over-estimates the noise at N, by
    up to ~1.3x from N/2: the default margin errs on the side of never failing a harmless change.
    Units: the metric's own.
    """
    rows = np.asarray(rows)
    count = rows.shape[0]
    if count < 4:
        raise ValueError(f"rows: need at least 4 samples to estimate seed noise, got {count}")
    rng = np.random.default_rng(seed)
    if count > max_rows:
        rows = rows[np.sort(rng.choice(count, size=max_rows, replace=False))]
    half = rows.shape[0] // 2
    with _small_matrix_threads(rows.shape[0]):
        statistic = make_statistic(np.asarray(rows, dtype=np.float64))
        differences = np.empty(resplits)
        for i in range(resplits):
            order = rng.permutation(rows.shape[0])
            differences[i] = statistic(order[half : 2 * half]) - statistic(order[:half])
    return float(np.std(differences, ddof=1) * np.sqrt(half / count))


def per_sample_noise_sd(values) -> float:
    """Seed-to-seed SD of a difference of two means of ``len(values)`` per-sample values: sd*sqrt(2/N)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size < 2:
        raise ValueError(f"values: need >= 2 samples to estimate seed noise, got {values.size}")
    return float(np.std(values, ddof=1) * np.sqrt(2.0 / values.size))


CLEAR_MIN_DRAWS = 24  # null draws before the clear-rejection rule may stop, in general ...
SMOOTH_NULL_MIN_DRAWS = 4  # ... and for a smooth, near-normal null (FID, KID: sums over every swap)
CLEAR_TAIL_FRACTION = 0.02  # ... it stops when the predicted tail is below alpha times this (alpha/50)


def _predicted_tail(null: np.ndarray, threshold: float) -> float:
    """P(next null draw >= threshold) under normality, from k draws: a predictive t with k-1 df.

    With mean m and SD s of k normal draws, a new draw is m + s sqrt(1 + 1/k) t_{k-1}.
    """
    from scipy.special import stdtr

    count = null.shape[0]
    spread = float(np.std(null, ddof=1)) * math.sqrt(1.0 + 1.0 / count)
    if spread <= 0:
        return 0.0 if threshold > float(null[0]) else 1.0
    return float(stdtr(count - 1, -(threshold - float(np.mean(null))) / spread))


def _sequential_tail(
    draw_null: Callable[[], float],
    threshold: float,
    *,
    alpha: float,
    max_resamples: int,
    min_clear_draws: int = CLEAR_MIN_DRAWS,
) -> tuple[float, int]:
    """Monte Carlo p-value of P(null >= threshold), stopping as soon as the decision is known.

    - Clearly not significant (Besag & Clifford 1991): once ``floor(alpha * (max_resamples + 1))``
      null values reach the threshold, p can no longer fall below ``alpha``; stop, report
      (h + 1) / (k + 1) after k draws with h exceedances. Same decision as drawing them all.
    - Clearly significant: after k >= ``min_clear_draws`` draws with no exceedance, the predictive
      t tail P(t_{k-1} >= (threshold - mean) / (SD sqrt(1 + 1/k))) (``_predicted_tail``: where
      a new draw falls, the SD's own uncertainty included) is below ``alpha *
      CLEAR_TAIL_FRACTION`` = alpha/50; stop and report it. Median stop (simulated at alpha 0.005): 5 draws for
      a threshold 20 null SDs out, 6 at 10, 8 at 7, 14 at 5; and at 24 draws the rule asks
      for 3.8 sample SDs (the 0.1 rule asked for 4.0). Cost to the level, simulated with normal
      nulls (the paired FID null is a sum over many swaps), 2000 tests per true tail p, rejection
      rate of the whole procedure (drawing all 400 alone, at alpha 0.005: 0.405, 0.091, 0.003): 0.42, 0.092, 0.004
      at p = alpha, 2 alpha, 4 alpha (the 0.1 rule: 0.42, 0.086, 0.002): within the simulation's
      error of the full test. It relies on the null being near-normal, which holds for FID's and
      KID's (smooth sums over every swap), so they may stop from ``SMOOTH_NULL_MIN_DRAWS`` = 4
      draws; a k-NN metric's null can be lumpy (coverage, simulated: 5 draws within 0.008 of each
      other, then one 0.09 away, null SD 0.04), and 4 such draws once rejected a same-distribution
      change whose full p was 0.045, so every other metric waits for ``CLEAR_MIN_DRAWS`` = 24.
    - Otherwise all ``max_resamples`` are drawn: p = (h + 1) / (max_resamples + 1).
    Returns (p, resamples drawn).
    """
    allowed = max(1, int(np.floor(alpha * (max_resamples + 1))))  # p < alpha needs h <= allowed - 1
    null = np.empty(max_resamples)
    exceed = 0
    for drawn in range(1, max_resamples + 1):
        null[drawn - 1] = draw_null()
        exceed += null[drawn - 1] >= threshold
        if exceed >= allowed:
            return float((exceed + 1) / (drawn + 1)), drawn
        if drawn >= min_clear_draws and exceed == 0:
            predicted = _predicted_tail(null[:drawn], threshold)
            if predicted < alpha * CLEAR_TAIL_FRACTION:
                return predicted, drawn
    return float((exceed + 1) / (max_resamples + 1)), max_resamples


@dataclass(frozen=True)
class MarginTest:
    """Outcome of the drift gate for one metric.

    ``observed``: current - baseline (metric units); ``worsening``: the same, signed so that
    positive is worse; ``margin``: the tolerated worsening (metric units); ``noise_sd``: the
    seed-to-seed SD the default margin comes from (None when the user set the margin);
    ``p_value``: one-sided p of H0 "worsening <= margin" (1.0 when the worsening is inside the
    margin: nothing to test); ``p_better`` the same for "improvement <= margin"; ``method``:
    "paired-permutation", "permutation", "paired-bootstrap", "bootstrap", or "inside-margin".
    """

    method: str
    observed: float
    worsening: float
    margin: float
    noise_sd: float | None
    p_value: float
    p_better: float
    resamples: int
    alpha: float = DRIFT_ALPHA
    margin_rule: str = ""  # where the margin came from, for people: "0.75 x seed-noise SD", "gen_drift_margin"
    # swap-z evidence (stats.swap_z) with looks of a group-sequential design (stats.sequential):
    # the z at the deciding look, the bound it was held against, the look (1-based) of how many,
    # and the seeds used of the most the baseline allows
    z: float | None = None
    bound: float | None = None
    look: int = 1
    looks: int = 1
    n_used: int | None = None
    n_max: int | None = None

    @property
    def band(self) -> float:
        """What seed noise moves the metric by (about 2 SDs), for messages; the margin when unknown."""
        return 2.0 * self.noise_sd if self.noise_sd is not None else self.margin

    @property
    def significant_worsening(self) -> bool:
        if self.z is not None and self.bound is not None:
            return self.worsening > self.margin and self.z >= self.bound
        return self.worsening > self.margin and self.p_value < self.alpha

    @property
    def significant_improvement(self) -> bool:
        return -self.worsening > self.margin and self.p_better < self.alpha

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "observed": self.observed,
            "worsening": self.worsening,
            "margin": self.margin,
            "noise_sd": self.noise_sd,
            "p_value": self.p_value,
            "p_better": self.p_better,
            "band": self.band,
            "resamples": self.resamples,
            "alpha": self.alpha,
            "margin_rule": self.margin_rule,
            **(
                {
                    "z": self.z if math.isfinite(self.z) else None,
                    "bound": self.bound,
                    "look": self.look,
                    "looks": self.looks,
                    "n_used": self.n_used,
                    "n_max": self.n_max,
                }
                if self.z is not None
                else {}
            ),
        }


def _check_margin_inputs(baseline, current, worse_sign, margin, paired) -> None:
    if worse_sign not in (1, -1):
        raise ValueError(f"worse_sign: expected +1 or -1, got {worse_sign!r}")
    if not (isinstance(margin, (int, float, np.floating)) and np.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin: expected a finite number >= 0 in the metric's units, got {margin!r}")
    if paired and len(baseline) != len(current):
        raise ValueError(
            f"paired: baseline and current must have one row per seed, got {len(baseline)} and {len(current)}"
        )


def reassignment(rng: np.random.Generator, n_base: int, n_pooled: int, *, paired: bool):
    """One random re-assignment of pooled rows (baseline rows first): (current side, baseline side).

    ``paired``: row i and row n_base + i come from one seed and swap sides with probability 1/2;
    otherwise the pool is re-split at random into the original sizes.
    """
    if paired:
        index = np.arange(n_base)
        swap = rng.random(n_base) < 0.5
        return np.where(swap, index, index + n_base), np.where(swap, index + n_base, index)
    order = rng.permutation(n_pooled)
    return order[n_base:], order[:n_base]


def margin_test(
    baseline,
    current,
    make_statistic: Callable[[np.ndarray], Callable[[np.ndarray], float]],
    *,
    worse_sign: int,
    margin: float,
    paired: bool,
    noise_sd: float | None = None,
    observed: float | None = None,
    alpha: float = DRIFT_ALPHA,
    max_resamples: int = DRIFT_RESAMPLES,
    seed: int = 0,
    noise_sd_is_upper_bound: bool = False,
    smooth_null: bool = False,
) -> MarginTest:
    """Is a distribution metric worse than its baseline by more than ``margin``?

    H0: worsening <= margin; H1: worsening > margin (worsening = worse_sign * (metric(current) -
    metric(baseline)), metric units). The null distribution of the worsening under "no change"
    comes from re-assigning rows between the two sides, and is shifted by the margin (a
    location-shift model): p = P(null >= worsening - margin).

    ``paired=True`` (baseline row i and current row i come from seed i): the re-assignment swaps
    baseline_i and current_i with probability 1/2, which keeps the seed structure, so a change
    that moves every sample a little is judged against how much the *changes* vary, not against
    how much seeds vary. ``paired=False`` (the seeds differ): the pooled rows are re-split at
    random (an unpaired permutation test). A worsening inside the margin is not resampled at
    all (p = 1.0, "inside-margin"): the usual case costs nothing but the metric itself. The same
    holds for the improvement side, tested against the same margin. ``observed``: the caller's
    current - baseline, when known, decides "inside the margin" without building the statistic.

    ``noise_sd_is_upper_bound``: the caller knows that ``noise_sd`` is, in the median, close to or
    above the SD of the worsening of a harmless change (FID: the baseline-only estimate measured
    0.82-1.19x the true seed noise, and a same-seed change varies less than a new seed set). Then
    a worsening beyond the margin by so much that ``_noise_bound_p`` (a t tail with
    ``NOISE_RESPLITS - 1`` df on ``NOISE_BOUND_SAFETY`` = 2 x ``noise_sd``: one baseline's
    estimate can be half the true SD) is below ``alpha * NOISE_BOUND_FRACTION`` = alpha/50 is
    failed without resampling ("noise-sd-bound", about margin + 8 noise SDs). The union of the
    two rejection rules has level <= alpha + alpha/50 at the margin. Not for metrics whose
    baseline-only estimate runs low (coverage).
    ``smooth_null``: the re-assignment null is near-normal (FID, KID), so a clear regression may
    be decided after ``SMOOTH_NULL_MIN_DRAWS`` draws instead of ``CLEAR_MIN_DRAWS``.
    """
    baseline = np.asarray(baseline)
    current = np.asarray(current)
    if baseline.ndim != 2 or current.ndim != 2 or baseline.shape[1] != current.shape[1]:
        raise ValueError(
            f"baseline, current: expected [n, d] arrays of one d, got {baseline.shape} and {current.shape}"
        )
    _check_margin_inputs(baseline, current, worse_sign, margin, paired)
    if observed is not None and abs(observed) <= margin:
        return MarginTest(
            "inside-margin", float(observed), worse_sign * float(observed), float(margin), noise_sd, 1.0, 1.0, 0, alpha
        )
    bounded = noise_sd_is_upper_bound and noise_sd is not None and noise_sd > 0
    if observed is not None and bounded:
        shortcut = _noise_bound_test(float(observed), worse_sign, float(margin), noise_sd, alpha)
        if shortcut is not None:
            return shortcut
    n_base, n_current = baseline.shape[0], current.shape[0]
    pooled = np.concatenate([baseline, current], dtype=np.float64)
    statistic = make_statistic(pooled)
    everything = np.arange(n_base + n_current)
    with _small_matrix_threads(pooled.shape[0]):
        observed = float(statistic(everything[n_base:]) - statistic(everything[:n_base]))
    worsening = worse_sign * observed
    if abs(worsening) <= margin:
        return MarginTest("inside-margin", observed, worsening, float(margin), noise_sd, 1.0, 1.0, 0, alpha)
    shortcut = _noise_bound_test(observed, worse_sign, float(margin), noise_sd, alpha) if bounded else None
    if shortcut is not None:
        return shortcut
    rng = np.random.default_rng(seed)

    def draw_null() -> float:
        current_side, baseline_side = reassignment(rng, n_base, pooled.shape[0], paired=paired)
        return worse_sign * (statistic(current_side) - statistic(baseline_side))

    method = "paired-permutation" if paired else "permutation"
    min_clear_draws = SMOOTH_NULL_MIN_DRAWS if smooth_null else CLEAR_MIN_DRAWS
    with _small_matrix_threads(pooled.shape[0]):
        if worsening > margin:
            p_worse, drawn = _sequential_tail(
                draw_null, worsening - margin, alpha=alpha, max_resamples=max_resamples, min_clear_draws=min_clear_draws
            )
            return MarginTest(method, observed, worsening, float(margin), noise_sd, p_worse, 1.0, drawn, alpha)
        p_better, drawn = _sequential_tail(
            lambda: -draw_null(),
            -worsening - margin,
            alpha=alpha,
            max_resamples=max_resamples,
            min_clear_draws=min_clear_draws,
        )
    return MarginTest(method, observed, worsening, float(margin), noise_sd, 1.0, p_better, drawn, alpha)


def _noise_bound_p(worsening: float, margin: float, noise_sd: float) -> float:
    """One-sided p of "worsening <= margin" when ``NOISE_BOUND_SAFETY`` x ``noise_sd`` bounds the
    worsening's SD from above.

    ``normal_margin_p`` with a t of ``NOISE_RESPLITS - 1`` df in place of the normal: the SD
    was estimated from that many half-splits (relative error ~9 %), which widens the tail.
    """
    from scipy.special import stdtr

    if worsening <= margin:
        return 1.0
    return float(stdtr(NOISE_RESPLITS - 1, -(worsening - margin) / (NOISE_BOUND_SAFETY * noise_sd)))


def _noise_bound_test(
    observed: float, worse_sign: int, margin: float, noise_sd: float, alpha: float
) -> MarginTest | None:
    """margin_test's zero-draw rule: a MarginTest when the noise-SD bound alone decides, else None."""
    worsening = worse_sign * observed
    level = alpha * NOISE_BOUND_FRACTION
    p_worse, p_better = _noise_bound_p(worsening, margin, noise_sd), _noise_bound_p(-worsening, margin, noise_sd)
    if p_worse >= level and p_better >= level:
        return None
    return MarginTest("noise-sd-bound", observed, worsening, margin, noise_sd, p_worse, p_better, 0, alpha)


def margin_bootstrap_test(
    baseline,
    current,
    *,
    worse_sign: int,
    margin: float,
    paired: bool,
    noise_sd: float | None = None,
    alpha: float = DRIFT_ALPHA,
    resamples: int = 2000,
    seed: int = 0,
) -> MarginTest:
    """The gate for per-sample metrics (CLIP score, user samples): a seeded bootstrap of the mean.

    H0: worsening of the mean <= margin. p is the bootstrap share of worsenings at or below the
    margin (percentile bootstrap of the paired mean difference when ``paired``, of the
    difference of the two means otherwise). A bootstrap of a *mean* is valid, unlike one of FID.
    """
    baseline = np.asarray(baseline, dtype=np.float64).ravel()
    current = np.asarray(current, dtype=np.float64).ravel()
    if baseline.size < 2 or current.size < 2:
        raise ValueError(f"baseline, current: need >= 2 values each, got {baseline.size} and {current.size}")
    _check_margin_inputs(baseline, current, worse_sign, margin, paired)
    observed = float(current.mean() - baseline.mean())
    worsening = worse_sign * observed
    if abs(worsening) <= margin:
        return MarginTest("inside-margin", observed, worsening, float(margin), noise_sd, 1.0, 1.0, 0, alpha)
    rng = np.random.default_rng(seed)
    if paired:
        diff = current - baseline
        samples = diff[rng.integers(0, diff.size, size=(resamples, diff.size))].mean(axis=1)
    else:
        samples = current[rng.integers(0, current.size, size=(resamples, current.size))].mean(axis=1) - baseline[
            rng.integers(0, baseline.size, size=(resamples, baseline.size))
        ].mean(axis=1)
    worse_samples = worse_sign * samples
    p_worse = float((np.sum(worse_samples <= margin) + 1) / (resamples + 1))
    p_better = float((np.sum(-worse_samples <= margin) + 1) / (resamples + 1))
    method = "paired-bootstrap" if paired else "bootstrap"
    return MarginTest(method, observed, worsening, float(margin), noise_sd, p_worse, p_better, resamples, alpha)


_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def parse_max_drift(max_drift) -> tuple[str, float | None]:
    """'auto' | None (no drift check) | absolute number | 'N%' -> (mode, amount)."""
    if max_drift is None or max_drift is False:
        return "off", None
    if isinstance(max_drift, str):
        if max_drift == "auto":
            return "auto", None
        match = _PERCENT.match(max_drift)
        if match:
            return "percent", float(match.group(1))
        raise ValueError(f"max_drift: expected 'auto', a number, a percentage like '5%', or None; got {max_drift!r}")
    if isinstance(max_drift, (int, float)) and not isinstance(max_drift, bool) and max_drift >= 0:
        return "absolute", float(max_drift)
    raise ValueError(
        f"max_drift: expected 'auto', a non-negative number, a percentage like '5%', or None; got {max_drift!r}"
    )


def normal_margin_p(worsening: float, margin: float, noise_sd: float) -> float:
    """One-sided p of H0 "worsening <= margin" when the worsening is normal with SD ``noise_sd``.

    The gate's rule for two values known only through their seed-noise SD (``genquality diff``:
    run files keep values, not features): p = P(N(0, noise_sd) >= worsening - margin); 1.0 when
    the worsening is inside the margin. Units: the metric's.
    """
    if worsening <= margin:
        return 1.0
    if noise_sd <= 0:
        return 0.0
    return float(0.5 * math.erfc((worsening - margin) / (noise_sd * math.sqrt(2.0))))


NORMAL_TEST_NOISE_FACTOR = math.sqrt(2.0)  # normal_margin_test's SD: seed_noise_sd x this (see below)


def normal_margin_test(
    observed: float, *, worse_sign: int, margin: float, noise_sd: float, alpha: float = DRIFT_ALPHA
) -> MarginTest:
    """The drift gate without resampling: the worsening judged against the stored seed-noise SD.

    H0: worsening <= margin, with the worsening taken as normal with SD ``noise_sd`` (metric
    units); p = P(N(0, noise_sd) >= worsening - margin). Valid for any change that leaves the
    metric's distribution as it was: the current set is then a sample of the same distribution
    as the baseline's, correlated with it or not, so its worsening varies at most as much as two
    independent samples' do, which is the seed noise (``seed_noise_sd``, for statistics that are
    near-normal, such as a mean of per-sample terms).

    Why a metric would use it instead of ``margin_test``: a change confined to k of the N seeds
    (a partial collapse: 8 of 256) leaves only k informative pairs, and a re-assignment p-value
    can then never fall below 2^-k; this test has no such floor. Its cost is nil. Its risk is an
    under-estimated noise SD, so callers pass ``seed_noise_sd`` x ``NORMAL_TEST_NOISE_FACTOR``
    (the half-split SD before its sqrt(n/N) rescaling at the largest, i.e. the noise at N/2
    rather than at N); measured for ``log_nn_distance`` on simulated features, the harmless
    worsening's SD was 0.6-0.86 of that (README "The drift gate").
    """
    if worse_sign not in (1, -1):
        raise ValueError(f"worse_sign: expected +1 or -1, got {worse_sign!r}")
    if not (isinstance(margin, (int, float, np.floating)) and np.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin: expected a finite number >= 0 in the metric's units, got {margin!r}")
    if not (isinstance(noise_sd, (int, float, np.floating)) and np.isfinite(noise_sd) and noise_sd >= 0):
        raise ValueError(f"noise_sd: expected a finite number >= 0 in the metric's units, got {noise_sd!r}")
    worsening = worse_sign * float(observed)
    if abs(worsening) <= margin:
        return MarginTest(
            "inside-margin", float(observed), worsening, float(margin), float(noise_sd), 1.0, 1.0, 0, alpha
        )
    return MarginTest(
        "normal",
        float(observed),
        worsening,
        float(margin),
        float(noise_sd),
        normal_margin_p(worsening, margin, noise_sd),
        normal_margin_p(-worsening, margin, noise_sd),
        0,
        alpha,
    )
