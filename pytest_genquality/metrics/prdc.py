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
count), "inside" is strict (``distance < radius``).

Every decision is the one float64 distances give, but most distances are only *screened* in
float32 (half the cost of float64 products): a rigorous bound on the float32 error says which
comparisons the screen settles, and only the few pairs near a radius are recomputed in float64
(see ``_Screen``). Strips of rows keep 10k x 10k sets from ever holding a full distance matrix:
peak memory is O(strip rows x N), about ``STRIP_BYTES``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .validation import as_features, check_int, check_same_dim

PRECISION_RECALL_K = 3  # Kynkaenniemi et al. 2019, torch-fidelity default
DENSITY_COVERAGE_K = 5  # Naeem et al. 2020
STRIP_BYTES = 64 * 1024 * 1024  # a float64 distance strip (float32 screened strips take half)
COLUMN_BLOCK_ROWS = 2048  # rows of the other set converted to float32/float64 at once
PAIRS_PER_STEP = 512  # pairs recomputed in float64 at once (two 8 MB gathers at d = 2048)
# Above this share of undecided pairs a strip is recomputed in float64 by products instead:
# pair by pair costs about 20x more per pair than a product.
MAX_RECOMPUTED_SHARE = 1 / 32


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
    real_space, fake_space = _Screen(real), _Screen(fake)
    real_radii_sq = _kth_neighbour_sq_radii(real_space, k)
    fake_radii_sq = _kth_neighbour_sq_radii(fake_space, k)
    fake_in_real_balls = np.zeros(len(fake), dtype=np.int64)
    real_in_fake_balls = np.zeros(len(real), dtype=bool)
    real_ball_has_fake = np.zeros(len(real), dtype=bool)
    for rows, strip in _screened_strips(real_space, fake_space):
        real_balls = _strip_inside(strip, real_space, fake_space, rows, real_radii_sq[rows], per_row=True)
        fake_balls = _strip_inside(strip, real_space, fake_space, rows, fake_radii_sq, per_row=False)
        fake_in_real_balls += real_balls.sum(axis=0)
        real_ball_has_fake[rows] = real_balls.any(axis=1)
        real_in_fake_balls[rows] = fake_balls.any(axis=1)
    return _Counts(fake_in_real_balls, real_in_fake_balls, real_ball_has_fake)


class _Screen:
    """One feature set, ready for float32 screening and exact float64 recomputation.

    For float32-rounded inputs and a float32 product of depth d, the screened squared distance
    differs from the float64 one by at most ``error_per_norm * (|x|^2 + |y|^2)``: Higham's dot
    product bound gamma_d * sum |x_i y_i| <= gamma_d (|x|^2 + |y|^2) / 2 (any summation order,
    FMA or not), plus a few unit round-offs for rounding the inputs, the norms, the two additions
    and the thresholds, and the float64 distance's own error (with margin: 32 u in all).
    """

    def __init__(self, features: np.ndarray):
        self.features = features
        self.norms_sq = _squared_norms(features)
        unit = float(np.finfo(np.float32).eps) / 2
        depth = features.shape[1]
        self.error_per_norm = depth * unit / (1 - depth * unit) + 32 * unit
        self.norms_sq32 = self.norms_sq.astype(np.float32)

    def error(self, rows: np.ndarray | slice, other: "_Screen") -> np.ndarray:
        """Bound on |screened - float64| for rows against any row of ``other``."""
        return self.error_per_norm * (self.norms_sq[rows] + other.norms_sq.max())

    def exact_sq_distances(self, rows: np.ndarray, other: "_Screen", cols: np.ndarray) -> np.ndarray:
        """float64 |x_rows - y_cols|^2 pair by pair, clamped at 0; symmetric bit for bit, so a
        distance compared here with a radius found here gives the same answer both ways."""
        distances = np.empty(len(rows), dtype=np.float64)
        for start in range(0, len(rows), PAIRS_PER_STEP):
            r, c = rows[start : start + PAIRS_PER_STEP], cols[start : start + PAIRS_PER_STEP]
            dots = np.einsum(
                "ij,ij->i",
                self.features[r].astype(np.float64, copy=False),
                other.features[c].astype(np.float64, copy=False),
            )
            distances[start : start + len(r)] = (self.norms_sq[r] + other.norms_sq[c]) - 2.0 * dots
        np.maximum(distances, 0.0, out=distances)
        if other is self:
            distances[rows == cols] = 0.0
        return distances


def _kth_neighbour_sq_radii(features: np.ndarray | _Screen, k: int) -> np.ndarray:
    """Squared float64 distance from each row to its k-th nearest other row (index k, self at 0).

    features: [N, D] array (``resampling.NeighbourhoodSubsets`` passes one) or a prepared _Screen.

    With v the (k+1)-th smallest screened value of a row and e its error bound, the true radius
    is at most v + e, so every row at or inside it screens at most v + 2e: those candidates (a
    handful per row) are recomputed in float64 and the k-th of them is the radius. Near-duplicate
    sets, where most pairs are candidates, are computed in float64 strips instead.
    """
    space = features if isinstance(features, _Screen) else _Screen(features)
    candidates = _radius_candidates(space, k)
    if candidates is None:
        radii_sq = np.empty(len(space.features), dtype=np.float64)
        for rows in _row_slices(len(space.features), space):
            radii_sq[rows] = np.partition(_exact_strip(space, space, rows), k, axis=1)[:, k]
        return radii_sq
    cand_rows, cand_cols = candidates
    distances = space.exact_sq_distances(cand_rows, space, cand_cols)
    order = np.lexsort((distances, cand_rows))
    first_of_row = np.searchsorted(cand_rows[order], np.arange(len(space.features)))
    return distances[order][first_of_row + k]


def _radius_candidates(space: _Screen, k: int):
    """(rows, cols) of the pairs that may decide a radius, or None when there are too many.

    Distances are symmetric, so each strip only covers the columns from its own first row on:
    a pair above the diagonal block serves both its row and (transposed) its column, half the
    products. The (k+1) smallest screened values per row are kept as they arrive; a pair is
    kept when it screens within the row's current bound, which only tightens, and the pairs are
    filtered against the final bound at the end.
    """
    n = len(space.features)
    smallest = np.full((n, k + 1), np.inf, dtype=np.float32)
    row_error = 2 * space.error(slice(None), space)
    kept_rows, kept_cols, kept_values, kept = [], [], [], 0
    budget = n * n * MAX_RECOMPUTED_SHARE
    for rows, strip in _screened_strips(space, space, upper=True):
        local = np.arange(len(strip))
        strip[local, local] = 0.0  # the strip starts at column rows.start: its diagonal is self
        below_diagonal = strip[:, len(strip) :]
        _merge_smallest(smallest, rows, strip, axis=1)
        columns = slice(rows.stop, n)
        _merge_smallest(smallest, columns, below_diagonal, axis=0)
        bound = _float32_above(smallest.max(axis=1).astype(np.float64) + row_error)
        r, c = np.nonzero(strip <= bound[rows, None])
        c_t, r_t = np.nonzero(below_diagonal <= bound[None, columns])
        for pair_rows, pair_cols in ((r + rows.start, c + rows.start), (r_t + rows.stop, c_t + rows.start)):
            kept_rows.append(pair_rows)
            kept_cols.append(pair_cols)
        kept_values += [strip[r, c], below_diagonal[c_t, r_t]]
        kept += len(r) + len(r_t)
        if kept > budget:
            return None
    rows, cols, values = (np.concatenate(parts) for parts in (kept_rows, kept_cols, kept_values))
    final_bound = _float32_above(smallest.max(axis=1).astype(np.float64) + row_error)
    keep = values <= final_bound[rows]
    return rows[keep], cols[keep]


def _merge_smallest(smallest: np.ndarray, rows: slice, values: np.ndarray, *, axis: int) -> None:
    """smallest[rows] <- the k+1 smallest of itself and ``values`` along ``axis`` (rows of it)."""
    if values.size == 0:
        return
    if axis == 0:
        values = values.T
    width = smallest.shape[1]
    if values.shape[1] > width:
        values = np.partition(values, width - 1, axis=1)[:, :width]
    merged = np.concatenate([smallest[rows], values], axis=1)
    smallest[rows] = np.partition(merged, width - 1, axis=1)[:, :width]


def _row_slices(n_rows: int, col_space: _Screen):
    strip_rows = max(1, STRIP_BYTES // (8 * len(col_space.features)))
    for start in range(0, n_rows, strip_rows):
        yield slice(start, min(start + strip_rows, n_rows))


def _strip_inside(strip, row_space: _Screen, col_space: _Screen, rows: slice, radii_sq, *, per_row: bool):
    """[strip rows, N_cols] bool: distance < radius, the radius of each row (``per_row``) or of
    each column; settled by the screen where it is farther than its error bound from the radius,
    recomputed in float64 elsewhere."""
    if per_row:
        radii_sq = radii_sq[:, None]
        error = row_space.error(rows, col_space)[:, None]
    else:
        radii_sq = radii_sq[None, :]
        error = col_space.error(slice(None), row_space)[None, :]
    inside = strip < _float32_below(radii_sq - error)
    unsure = strip <= _float32_above(radii_sq + error)
    unsure &= ~inside
    unsure_rows, unsure_cols = np.nonzero(unsure)
    if len(unsure_rows) > strip.size * MAX_RECOMPUTED_SHARE:
        return _exact_strip(row_space, col_space, rows) < radii_sq
    distances = row_space.exact_sq_distances(unsure_rows + rows.start, col_space, unsure_cols)
    radius = radii_sq[unsure_rows, 0] if per_row else radii_sq[0, unsure_cols]
    inside[unsure_rows, unsure_cols] = distances < radius
    return inside


def _float32_below(thresholds: np.ndarray) -> np.ndarray:
    """float32 thresholds no larger than the float64 ones, so comparing a float32 strip with
    them is as fast as it can be and never settles a comparison the float64 ones would not."""
    return np.nextafter(thresholds.astype(np.float32), np.float32(-np.inf))


def _float32_above(thresholds: np.ndarray) -> np.ndarray:
    return np.nextafter(thresholds.astype(np.float32), np.float32(np.inf))


def _screened_strips(row_space: _Screen, col_space: _Screen, *, upper: bool = False):
    """Yield (row slice, float32 screened squared distances [strip, N_cols]) strip by strip;
    ``upper`` (row_space is col_space): only the columns from the strip's first row on."""
    cols = col_space.features
    buffer = None
    for rows in _row_slices(len(row_space.features), col_space):
        first_col = rows.start if upper else 0
        row_block = row_space.features[rows].astype(np.float32, copy=False)
        if buffer is None:
            buffer = np.empty(len(row_block) * len(cols), dtype=np.float32)
        strip = buffer[: len(row_block) * (len(cols) - first_col)].reshape(len(row_block), -1)
        for col_start in range(first_col, len(cols), COLUMN_BLOCK_ROWS):
            col_block = cols[col_start : col_start + COLUMN_BLOCK_ROWS].astype(np.float32, copy=False)
            out = strip[:, col_start - first_col : col_start - first_col + len(col_block)]
            np.matmul(row_block, col_block.T, out=out)
        strip *= -2.0
        strip += row_space.norms_sq32[rows, None]
        strip += col_space.norms_sq32[None, first_col:]
        yield rows, strip


def _exact_strip(row_space: _Screen, col_space: _Screen, rows: slice) -> np.ndarray:
    """float64 squared distances of a strip by products, for strips the screen cannot settle
    (near-duplicate samples, e.g. a collapsed generator, put most pairs near the radius)."""
    row_block = row_space.features[rows].astype(np.float64, copy=False)
    strip = np.empty((len(row_block), len(col_space.features)), dtype=np.float64)
    for col_start in range(0, len(col_space.features), COLUMN_BLOCK_ROWS):
        col_block = col_space.features[col_start : col_start + COLUMN_BLOCK_ROWS].astype(np.float64, copy=False)
        np.matmul(row_block, col_block.T, out=strip[:, col_start : col_start + len(col_block)])
    strip *= -2.0
    strip += row_space.norms_sq[rows, None]
    strip += col_space.norms_sq[None, :]
    np.maximum(strip, 0.0, out=strip)
    if row_space is col_space:
        local = np.arange(len(strip))
        strip[local, rows.start + local] = 0.0
    return strip


def _squared_norms(features: np.ndarray) -> np.ndarray:
    norms = np.empty(len(features), dtype=np.float64)
    for start in range(0, len(features), COLUMN_BLOCK_ROWS):
        block = features[start : start + COLUMN_BLOCK_ROWS].astype(np.float64, copy=False)
        norms[start : start + len(block)] = np.einsum("ij,ij->i", block, block)
    return norms
