"""Streaming moments and the statistics of "is this change more than noise?".

- ``RunningMoments``: float64 mean and covariance over batches, constant memory in N
  (Chan et al. pairwise update, so a million float32 rows lose no precision); ``merge``
  combines the moments of disjoint shares exactly (the ranks of a torchrun job).
- ``permutation_test``: for distribution metrics (FID, KID, IS, CMMD, precision/recall).
  Pool baseline and current features, re-split at random into two sets of the original
  sizes, recompute the metric difference; the p-value is the share of re-splits at least as
  bad as the observed one. Valid at equal N and needs no resampling with replacement.
- ``bootstrap_mean_difference``: for per-sample metrics (CLIP score, paired LPIPS/SSIM/PSNR),
  where a bootstrap of the mean is valid.

Never a naive bootstrap of FID: resampling with replacement duplicates rows, which shrinks
the sample covariance's rank and inflates FID by far more than the seed-to-seed noise.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import numpy as np


class RunningMoments:
    """Mean and unbiased covariance of feature rows, accumulated batch by batch in float64."""

    def __init__(self, dim: int):
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim: expected a positive int, got {dim!r}")
        self.dim = dim
        self.count = 0
        self.mean = np.zeros(dim, dtype=np.float64)
        self._scatter = np.zeros((dim, dim), dtype=np.float64)  # sum of outer products of deviations

    def update(self, rows) -> None:
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise ValueError(f"rows: expected shape [n, {self.dim}], got {rows.shape}")
        if rows.shape[0] == 0:
            return
        if not np.isfinite(rows).all():
            raise ValueError("rows: features contain NaN or infinite values")
        batch_count = rows.shape[0]
        batch_mean = rows.mean(axis=0)
        centred = rows - batch_mean
        batch_scatter = centred.T @ centred
        total = self.count + batch_count
        delta = batch_mean - self.mean
        self._scatter += batch_scatter + np.outer(delta, delta) * (self.count * batch_count / total)
        self.mean += delta * (batch_count / total)
        self.count = total

    def merge(self, other: "RunningMoments") -> "RunningMoments":
        """Fold in the moments of another, disjoint set of rows (exact: Chan et al. 1979, parallel form).

        The result equals one ``RunningMoments`` fed both sets of rows, to float64 round-off
        (about 1e-15 relative): this is how ranks of a distributed run combine their shares.
        Returns ``self``.
        """
        if not isinstance(other, RunningMoments) or other.dim != self.dim:
            raise ValueError(f"other: expected RunningMoments of dim {self.dim}, got {other!r}")
        if other.count == 0:
            return self
        total = self.count + other.count
        delta = other.mean - self.mean
        self._scatter += other._scatter + np.outer(delta, delta) * (self.count * other.count / total)
        self.mean += delta * (other.count / total)
        self.count = total
        return self

    def state(self) -> dict:
        """count, mean and scatter as plain arrays: what a rank sends to the others."""
        return {"dim": self.dim, "count": self.count, "mean": self.mean, "scatter": self._scatter}

    @classmethod
    def from_state(cls, state: dict) -> "RunningMoments":
        moments = cls(int(state["dim"]))
        moments.count = int(state["count"])
        moments.mean = np.array(state["mean"], dtype=np.float64)
        moments._scatter = np.array(state["scatter"], dtype=np.float64)
        return moments

    @property
    def covariance(self) -> np.ndarray:
        if self.count < 2:
            raise ValueError(f"covariance needs at least 2 samples, got {self.count}")
        return self._scatter / (self.count - 1)


def mean_and_covariance(features) -> tuple[np.ndarray, np.ndarray]:
    """float64 mean and unbiased covariance (np.cov convention, as pytorch-fid)."""
    features = np.asarray(features, dtype=np.float64)
    moments = RunningMoments(features.shape[1])
    moments.update(features)
    return moments.mean, moments.covariance


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
        return {"method": self.method, "observed": self.observed, "p_value": self.p_value,
                "p_better": self.p_better, "band": self.band, "resamples": self.resamples}


def permutation_test(baseline, current, make_statistic: Callable[[np.ndarray], Callable[[np.ndarray], float]], *,
                     worse_sign: int, resamples: int = 200, seed: int = 0) -> DriftTest:
    """Seeded permutation test of ``statistic(current) - statistic(baseline)``.

    ``make_statistic(pooled_rows)`` returns ``statistic(indices)``, the metric value of the
    rows ``pooled_rows[indices]`` (the caller binds the reference; taking indices lets it
    precompute over the pooled rows once, as ``FrechetSubsets`` does). Baseline rows come
    first in the pool. ``worse_sign``: +1 when larger is worse (FID), -1 when smaller is
    worse (IS, recall). p-values count re-splits at least as extreme as the observed
    difference, with the +1 correction so they are never 0.
    """
    baseline = np.asarray(baseline)
    current = np.asarray(current)
    if baseline.ndim != 2 or current.ndim != 2 or baseline.shape[1] != current.shape[1]:
        raise ValueError(f"baseline, current: expected [n, d] arrays of one d, got {baseline.shape} and {current.shape}")
    if worse_sign not in (1, -1):
        raise ValueError(f"worse_sign: expected +1 or -1, got {worse_sign!r}")
    if resamples < 1:
        raise ValueError(f"resamples: expected >= 1, got {resamples}")
    pooled = np.concatenate([baseline, current])
    n_base = baseline.shape[0]
    with _small_matrix_threads(pooled.shape[0]):
        statistic = make_statistic(pooled)
        everything = np.arange(pooled.shape[0])
        observed = float(statistic(everything[n_base:]) - statistic(everything[:n_base]))
        rng = np.random.default_rng(seed)
        null = np.empty(resamples)
        for i in range(resamples):
            order = rng.permutation(pooled.shape[0])
            null[i] = statistic(order[n_base:]) - statistic(order[:n_base])
    p_worse = float((np.sum(worse_sign * null >= worse_sign * observed) + 1) / (resamples + 1))
    p_better = float((np.sum(worse_sign * null <= worse_sign * observed) + 1) / (resamples + 1))
    band = float(np.quantile(np.abs(null), 0.95))
    return DriftTest("permutation", observed, p_worse, band, resamples, p_better)


def bootstrap_mean_difference(baseline, current, *, worse_sign: int, paired: bool = False,
                              resamples: int = 2000, seed: int = 0) -> DriftTest:
    """Seeded bootstrap of mean(current) - mean(baseline) for per-sample values.

    ``paired``: the i-th values belong together (same seed), so rows are resampled jointly.
    The p-value is the bootstrap share of differences on the "not worse" side of zero, a
    one-sided test of "current is worse".
    """
    baseline = np.asarray(baseline, dtype=np.float64).ravel()
    current = np.asarray(current, dtype=np.float64).ravel()
    if baseline.size < 2 or current.size < 2:
        raise ValueError(f"baseline, current: need >= 2 values each, got {baseline.size} and {current.size}")
    if paired and baseline.size != current.size:
        raise ValueError(f"paired: baseline and current must have equal length, got {baseline.size} and {current.size}")
    observed = float(current.mean() - baseline.mean())
    rng = np.random.default_rng(seed)
    if paired:
        diff = current - baseline
        index = rng.integers(0, diff.size, size=(resamples, diff.size))
        samples = diff[index].mean(axis=1)
    else:
        samples = (current[rng.integers(0, current.size, size=(resamples, current.size))].mean(axis=1)
                   - baseline[rng.integers(0, baseline.size, size=(resamples, baseline.size))].mean(axis=1))
    p_worse = float((np.sum(worse_sign * samples <= 0) + 1) / (resamples + 1))
    p_better = float((np.sum(worse_sign * samples >= 0) + 1) / (resamples + 1))
    centred = samples - samples.mean()
    band = float(np.quantile(np.abs(centred), 0.95))
    return DriftTest("bootstrap-mean", observed, p_worse, band, resamples, p_better)


def bootstrap_mean_interval(values, *, level: float = 0.95, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-sample values."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size < 2:
        raise ValueError(f"values: need >= 2 samples for an interval, got {values.size}")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
