"""FD∞: FID extrapolated to infinitely many generated images (Chong & Forsyth 2020,
"Effectively Unbiased FID and Inception Score and where to find them", CVPR).

FID computed from N generated images is biased upwards, and the bias depends on the generator:
to first order E[FID_N] = FD∞ + slope / N, with a slope that differs between models, so two
models compared at one N can rank in the wrong order. The paper measures FID_N on random
subsets of several sizes N_1 < ... < N_k <= N, fits that line in 1/N by ordinary least squares
and reports its intercept, FD∞, the FID at N = ∞: a value comparable across N and across models.

Their reference code (``calculate_FID_infinity``) uses 15 subset sizes evenly spaced from 5 000
to N = 50 000 (``np.linspace(5000, N, 15).astype(int32)``), each subset a fresh shuffle of the
generated features truncated to its size (without replacement), against fixed reference
statistics. ``default_subset_sizes`` keeps the 15 points and the paper's range ratio N_min = N/10
when N is smaller than 50 000 (CI-sized N), and N_min = 5 000 above it.

Units: those of the Frechet distance of the features (FID's, for Inception pool features).
FD∞ is an extrapolation: its spread across seeds is larger than FID_N's at the same N, and the
1/N law holds once N is well past the feature dimension's regime of rank-deficient covariances;
compare FD∞ values only between runs with the same subset sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .validation import as_features, check_int
from .frechet import _as_covariance, _as_vector, frechet_distance, frechet_distance_to_samples, sqrtm_psd

FD_INFINITY_POINTS = 15  # Chong & Forsyth 2020, calculate_FID_infinity(num_points=15)
FD_INFINITY_MIN_SUBSET = 5000  # Chong & Forsyth 2020: the smallest N of the fit at N = 50 000
FD_INFINITY_RANGE_RATIO = 10  # 5 000 / 50 000: smallest subset = N / 10 below 50 000 images
COVARIANCE_BLOCK_ROWS = 4096  # rows per float64 block of a subset's covariance


@dataclass(frozen=True)
class FDInfinityFit:
    """The fit FID_N = fd_infinity + slope / N over ``subset_sizes`` and their ``fids``."""

    fd_infinity: float
    slope: float
    subset_sizes: tuple[int, ...]
    fids: tuple[float, ...]

    def __float__(self) -> float:
        return self.fd_infinity

    def predicted(self, count: int) -> float:
        """The fitted line's FID at ``count`` images."""
        return self.fd_infinity + self.slope / count


def default_subset_sizes(count: int, *, points: int = FD_INFINITY_POINTS) -> tuple[int, ...]:
    """Chong & Forsyth's subset sizes, scaled to ``count`` generated images.

    ``np.linspace(N_min, count, points)`` as int, with N_min = min(5 000, count // 10): their
    5 000..50 000 at 50 000 images, the same 1:10 range below, 5 000..N above. Duplicates (tiny N)
    are dropped; at least two distinct sizes of at least 2 images each are required.
    """
    count = check_int(count, "count", minimum=3)
    points = check_int(points, "points", minimum=2)
    smallest = max(2, min(FD_INFINITY_MIN_SUBSET, count // FD_INFINITY_RANGE_RATIO))
    sizes = tuple(int(size) for size in np.unique(np.linspace(smallest, count, points).astype(np.int64)))
    if len(sizes) < 2:
        raise ValueError(f"count: {count} images give fewer than 2 distinct subset sizes; expected more images")
    return sizes


def fd_infinity(
    features, mu_ref, sigma_ref, *, subset_sizes: Sequence[int] | None = None, seed: int = 0, sqrt_sigma_ref=None
) -> FDInfinityFit:
    """FD∞ of generated ``features`` [N, D] against the reference Gaussian (``mu_ref`` [D], ``sigma_ref`` [D, D]).

    For each size n in ``subset_sizes`` (default ``default_subset_sizes(N)``, increasing), the
    rows ``rng.permutation(N)[:n]`` with ``rng = numpy.random.default_rng(seed)`` drawn afresh for
    each size in order; FID_n is the project's ``frechet_distance`` (the exact N×N path below D
    rows); then the ordinary least-squares line FID_n = FD∞ + slope / n. The value depends only
    on the features, their order, the sizes and the seed (not on how they were batched).
    ``sqrt_sigma_ref``: optional precomputed sigma_ref^½ (``ReferenceStats.sqrt_sigma``).
    Returns an ``FDInfinityFit``; ``float(fit)`` is FD∞.
    """
    rows = as_features(features, "features", min_rows=3, why="FD∞ fits FID over at least 2 subset sizes")
    mu_ref = _as_vector("mu_ref", mu_ref)
    if mu_ref.shape[0] != rows.shape[1]:
        raise ValueError(
            f"mu_ref: has {mu_ref.shape[0]} dimensions but features have {rows.shape[1]}; "
            "expected statistics of the same extractor"
        )
    sigma_ref = _as_covariance("sigma_ref", sigma_ref, mu_ref.shape[0])
    seed = check_int(seed, "seed", minimum=0)
    count, dim = rows.shape
    sizes = default_subset_sizes(count) if subset_sizes is None else _check_sizes(subset_sizes, count)

    root = sqrtm_psd(sigma_ref) if sqrt_sigma_ref is None else np.asarray(sqrt_sigma_ref, dtype=np.float64)
    shift = rows.mean(axis=0, dtype=np.float64)  # centring keeps the covariance sums free of cancellation
    rng = np.random.default_rng(seed)
    fids = []
    for size in sizes:
        chosen = np.sort(rng.permutation(count)[:size])
        if size < dim:
            fids.append(frechet_distance_to_samples(mu_ref, sigma_ref, rows[chosen]))
        else:
            mean, covariance = _subset_moments(rows, chosen, shift)
            fids.append(frechet_distance(mu_ref, sigma_ref, mean, covariance, sqrt_sigma1=root))
    inverse = 1.0 / np.asarray(sizes, dtype=np.float64)
    design = np.stack([np.ones_like(inverse), inverse], axis=1)
    (intercept, slope), *_ = np.linalg.lstsq(design, np.asarray(fids), rcond=None)
    return FDInfinityFit(float(intercept), float(slope), sizes, tuple(float(value) for value in fids))


def _subset_moments(rows: np.ndarray, chosen: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample covariance (N - 1) of ``rows[chosen]`` in float64, a block of rows at a time."""
    dim = rows.shape[1]
    total, outer = np.zeros(dim), np.zeros((dim, dim))
    for start in range(0, len(chosen), COVARIANCE_BLOCK_ROWS):
        block = rows[chosen[start : start + COVARIANCE_BLOCK_ROWS]].astype(np.float64) - shift
        total += block.sum(axis=0)
        outer += block.T @ block
    count = len(chosen)
    offset = total / count
    covariance = (outer - count * np.outer(offset, offset)) / (count - 1)
    return shift + offset, (covariance + covariance.T) / 2


def _check_sizes(subset_sizes, count: int) -> tuple[int, ...]:
    if isinstance(subset_sizes, (str, bytes)) or not hasattr(subset_sizes, "__iter__"):
        raise TypeError(f"subset_sizes: expected a sequence of ints, got {type(subset_sizes).__name__}")
    sizes = [check_int(size, "subset_sizes", minimum=2) for size in subset_sizes]
    too_big = [size for size in sizes if size > count]
    if too_big:
        raise ValueError(
            f"subset_sizes: {too_big[0]} is more than the {count} generated images; "
            "expected sizes between 2 and the number of feature rows"
        )
    if len(set(sizes)) < 2:
        raise ValueError(
            f"subset_sizes: got {sorted(set(sizes))}; expected at least 2 distinct sizes to fit a line in 1/N"
        )
    return tuple(sorted(set(sizes)))
