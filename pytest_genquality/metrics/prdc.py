"""k-nearest-neighbour manifold metrics: precision/recall and density/coverage.

Each sample's neighbourhood is the ball reaching to its k-th nearest neighbour in its own set.
- precision (Kynkaenniemi et al. 2019): share of fake samples inside some real ball (fidelity).
- recall (same paper): share of real samples inside some fake ball (diversity).
- density (Naeem et al. 2020): mean over fake samples of (number of real balls containing it)/k;
  about 1 when the distributions match, unbounded above, robust to real outliers.
- coverage (same paper): share of real samples whose ball contains at least one fake sample.
All are higher-is-better. Recall and coverage are the ones that see mode collapse; FID and
CMMD can miss it.

Conventions follow the ``prdc`` package (Naeem et al.'s reference code): Euclidean distances,
the radius is the k-th nearest *other* sample (the sample itself is at distance 0 and duplicates
count), "inside" is strict (``distance < radius``). Distances are computed in float64 in strips of
rows, so 10k x 10k sets never hold the full distance matrix: peak memory is
O(strip rows x N), about ``STRIP_BYTES``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validate import as_features, check_int, check_same_dim

PRECISION_RECALL_K = 3  # Kynkaenniemi et al. 2019, torch-fidelity default
DENSITY_COVERAGE_K = 5  # Naeem et al. 2020
STRIP_BYTES = 64 * 1024 * 1024  # float64 distance strip held at once
COLUMN_BLOCK_ROWS = 2048  # rows of the other set upcast to float64 at once


class PrecisionRecall(NamedTuple):
    """Fractions in [0, 1]; unpack as ``precision, recall = precision_recall(...)``."""

    precision: float
    recall: float


class DensityCoverage(NamedTuple):
    """density in [0, N_real / k] (about 1 for matching distributions); coverage in [0, 1]."""

    density: float
    coverage: float


def precision_recall(real, fake, *, k: int = PRECISION_RECALL_K) -> PrecisionRecall:
    """Improved precision and recall of ``fake`` against ``real``; features [N, D], N > k each."""
    real, fake, k = _validated(real, fake, k)
    counts = _neighbourhood_counts(real, fake, k)
    return PrecisionRecall(
        precision=float(np.mean(counts.fake_in_real_balls > 0)),
        recall=float(np.mean(counts.real_in_fake_balls)),
    )


def density_coverage(real, fake, *, k: int = DENSITY_COVERAGE_K) -> DensityCoverage:
    """Density and coverage of ``fake`` against ``real``; features [N, D], N > k each."""
    real, fake, k = _validated(real, fake, k)
    counts = _neighbourhood_counts(real, fake, k)
    return DensityCoverage(
        density=float(np.mean(counts.fake_in_real_balls) / k),
        coverage=float(np.mean(counts.real_ball_has_fake)),
    )


def _validated(real, fake, k) -> tuple[np.ndarray, np.ndarray, int]:
    k = check_int(k, "k", minimum=1)
    why = f"the radius is the distance to the k-th nearest other sample, k={k}"
    real = as_features(real, "real", min_rows=k + 1, why=why)
    fake = as_features(fake, "fake", min_rows=k + 1, why=why)
    check_same_dim(real, fake, "real", "fake")
    return real, fake, k


class _Counts(NamedTuple):
    fake_in_real_balls: np.ndarray  # [N_fake] int: how many real balls contain each fake sample
    real_in_fake_balls: np.ndarray  # [N_real] bool: real sample inside some fake ball
    real_ball_has_fake: np.ndarray  # [N_real] bool: the real sample's ball contains a fake sample


def _neighbourhood_counts(real: np.ndarray, fake: np.ndarray, k: int) -> _Counts:
    real_radii_sq = _kth_neighbour_sq_radii(real, k)
    fake_radii_sq = _kth_neighbour_sq_radii(fake, k)
    fake_in_real_balls = np.zeros(len(fake), dtype=np.int64)
    real_in_fake_balls = np.zeros(len(real), dtype=bool)
    real_ball_has_fake = np.zeros(len(real), dtype=bool)
    for start, distances_sq in _distance_strips(real, fake):
        radii_sq = real_radii_sq[start:start + len(distances_sq), None]
        inside_real_ball = distances_sq < radii_sq
        fake_in_real_balls += inside_real_ball.sum(axis=0)
        real_ball_has_fake[start:start + len(distances_sq)] = inside_real_ball.any(axis=1)
        real_in_fake_balls[start:start + len(distances_sq)] = (distances_sq < fake_radii_sq[None, :]).any(axis=1)
    return _Counts(fake_in_real_balls, real_in_fake_balls, real_ball_has_fake)


def _kth_neighbour_sq_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each row to its k-th nearest other row (index k, self at index 0)."""
    radii_sq = np.empty(len(features), dtype=np.float64)
    for start, distances_sq in _distance_strips(features, features):
        rows = np.arange(len(distances_sq))
        distances_sq[rows, start + rows] = 0.0  # the sample itself, exactly (round-off leaves ~1e-13)
        radii_sq[start:start + len(distances_sq)] = np.partition(distances_sq, k, axis=1)[:, k]
    return radii_sq


def _distance_strips(rows: np.ndarray, cols: np.ndarray):
    """Yield (first row, squared Euclidean distances [strip, N_cols] float64) strip by strip.

    |x - y|^2 = |x|^2 + |y|^2 - 2 x.y, clamped at 0 against round-off; the inputs are upcast to
    float64 a block at a time so float32 feature sets are not duplicated in memory.
    """
    strip_rows = max(1, STRIP_BYTES // (8 * len(cols)))
    col_norms = _squared_norms(cols)
    buffer = np.empty((min(strip_rows, len(rows)), len(cols)), dtype=np.float64)
    for start in range(0, len(rows), strip_rows):
        row_block = rows[start:start + strip_rows].astype(np.float64, copy=False)
        strip = buffer[:len(row_block)]
        for col_start in range(0, len(cols), COLUMN_BLOCK_ROWS):
            col_block = cols[col_start:col_start + COLUMN_BLOCK_ROWS].astype(np.float64, copy=False)
            np.matmul(row_block, col_block.T, out=strip[:, col_start:col_start + len(col_block)])
        strip *= -2.0
        strip += np.einsum("ij,ij->i", row_block, row_block)[:, None]
        strip += col_norms[None, :]
        np.maximum(strip, 0.0, out=strip)
        yield start, strip


def _squared_norms(features: np.ndarray) -> np.ndarray:
    norms = np.empty(len(features), dtype=np.float64)
    for start in range(0, len(features), COLUMN_BLOCK_ROWS):
        block = features[start:start + COLUMN_BLOCK_ROWS].astype(np.float64, copy=False)
        norms[start:start + len(block)] = np.einsum("ij,ij->i", block, block)
    return norms
