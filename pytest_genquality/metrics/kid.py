"""Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs").

KID is the squared maximum mean discrepancy between two feature sets under the cubic
polynomial kernel k(x, y) = (x.y / d + 1)^3, estimated without bias on random subsets and
averaged. Unlike FID it has an unbiased estimator, so values at different N are comparable in
expectation (the spread still shrinks with N). Lower is better; 0 means same distribution, and
small negative values are valid estimates.

Subsets are drawn exactly as torch-fidelity's ``kid_features_to_metric`` draws them (one
``numpy.random.RandomState(seed)``, for each subset first ``choice`` over set A then over set
B, without replacement), so the same seed gives the same number as torch-fidelity.

Precision (``precision="mixed"``, the default): the d-deep Gram products, nearly all the work,
run in float32 (sgemm, about twice dgemm's rate) on features centred by a common mean c, using
x.y = (x-c).(y-c) + x.c + y.c - c.c with the last three terms in float64; the kernel, its sums
over subsets and the estimator are float64. Centring shrinks the products' round-off to the
spread of the features instead of their magnitude (Inception pool features are non-negative with
a large common mean). On 5k x 5k Inception-like features the result is 2e-10 relative from the
all-float64 computation (``precision="float64"``), where torch-fidelity, float32 throughout, is
3e-6 away.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from ._validate import as_features, check_int, check_same_dim

KID_SUBSETS = 100  # torch-fidelity default
KID_SUBSET_SIZE = 1000  # Binkowski et al. 2018, torch-fidelity default
KERNEL_DEGREE = 3  # cubic polynomial kernel, Binkowski et al. 2018
KERNEL_COEF = 1.0
PRECISIONS = ("mixed", "float64")

# Tiles of the whole-set kernel matrix: row blocks of TILE_ROWS x column blocks of TILE_COLS.
# Peak memory at d = 2048, mixed precision: the two centred float32 blocks (8 + 2 MB) and the
# float32 and float64 tiles (1 + 2 MB), below torch-fidelity's per-subset float32 copies and
# kernel matrices; 1000-row products keep BLAS near its full rate.
TILE_ROWS = 1000
TILE_COLS = 250


class KIDEstimate(tuple):
    """(mean, std) of KID, unpacking as a pair, with the subset size and count actually used.

    ``subset_size`` can be smaller than the one asked for (clipped to the smaller set), and the
    spread of the estimate depends on it, so it travels with the number instead of living only
    in a warning.
    """

    def __new__(cls, mean: float, std: float, *, subset_size: int, subsets: int):
        estimate = super().__new__(cls, (float(mean), float(std)))
        estimate.subset_size = subset_size
        estimate.subsets = subsets
        return estimate

    @property
    def mean(self) -> float:
        return self[0]

    @property
    def std(self) -> float:
        return self[1]

    def __repr__(self) -> str:
        return f"KIDEstimate(mean={self[0]!r}, std={self[1]!r}, subset_size={self.subset_size}, subsets={self.subsets})"


def kid_subset_size(subset_size: int, n_a: int, n_b: int) -> int:
    """The subset size KID uses: the one asked for, clipped to the smaller feature set.

    torch-fidelity and torchmetrics raise instead; a CI batch of 64 images against the default
    1000 would then need every call to repeat the clip, so it is done here and reported.
    """
    return min(subset_size, n_a, n_b)


def kid(feats_a, feats_b, *, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = 0, precision: str = "mixed") -> KIDEstimate:
    """Mean and population std of the unbiased MMD^2 over ``subsets`` random subsets.

    feats_a, feats_b: [N_a, D], [N_b, D] features (numpy or torch, float32 or float64; never
    copied whole). Each needs at least 2 rows (the unbiased estimator divides by
    m(m-1)). ``subset_size`` larger than the smaller set is clipped to it with a UserWarning,
    and the result's ``.subset_size`` says the size used.
    precision: ``"mixed"`` (default: float32 products of centred features, float64 kernel and
    sums; see the module docstring) or ``"float64"`` (every step in float64, about half as fast).
    Returns (mean, std) in the kernel's units (Inception pool features: typically 1e-4 .. 1e-1)
    as a ``KIDEstimate``.
    """
    a = as_features(feats_a, "feats_a", min_rows=2, why="the unbiased MMD needs 2 samples per set")
    b = as_features(feats_b, "feats_b", min_rows=2, why="the unbiased MMD needs 2 samples per set")
    check_same_dim(a, b, "feats_a", "feats_b")
    subsets = check_int(subsets, "subsets", minimum=1)
    subset_size = check_int(subset_size, "subset_size", minimum=2)
    seed = check_int(seed, "seed", minimum=0)
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {PRECISIONS}, got {precision!r}")

    used = kid_subset_size(subset_size, len(a), len(b))
    if used < subset_size:
        warnings.warn(
            f"subset_size={subset_size} is larger than the smaller feature set ({len(a)} vs {len(b)} "
            f"rows); using subset_size={used}",
            UserWarning,
            stacklevel=2,
        )
        subset_size = used

    rows_a, rows_b = _draw_subsets(len(a), len(b), subsets, subset_size, seed)
    gamma = 1.0 / a.shape[1]
    cheaper = _whole_set_is_cheaper(len(a), len(b), subsets, subset_size, a.shape[1])
    a, b = _Products.pair(a, b, precision)
    if cheaper:
        sums = _kernel_sums_by_tiles(a, b, rows_a, rows_b, gamma)
    else:
        sums = _kernel_sums_by_subset(a, b, rows_a, rows_b, gamma)
    m = subset_size
    estimates = (sums.within_a + sums.within_b) / (m * (m - 1)) - 2.0 * sums.cross / (m * m)
    return KIDEstimate(estimates.mean(), estimates.std(), subset_size=subset_size, subsets=subsets)


def _draw_subsets(n_a: int, n_b: int, subsets: int, subset_size: int, seed: int):
    """Row indices [subsets, subset_size] per set, drawn in torch-fidelity's order (a, b, a, b...)."""
    rng = np.random.RandomState(seed)
    rows_a = np.empty((subsets, subset_size), dtype=np.int64)
    rows_b = np.empty((subsets, subset_size), dtype=np.int64)
    for i in range(subsets):
        rows_a[i] = rng.choice(n_a, subset_size, replace=False)
        rows_b[i] = rng.choice(n_b, subset_size, replace=False)
    return rows_a, rows_b


class _KernelSums(NamedTuple):
    """Per subset [subsets] float64: kernel sums within a and within b (diagonal excluded), and across."""

    within_a: np.ndarray
    within_b: np.ndarray
    cross: np.ndarray


def _whole_set_is_cheaper(n_a: int, n_b: int, subsets: int, subset_size: int, dim: int) -> bool:
    """Compare multiply-adds: every pair once (symmetric halves), plus the membership products,
    against three subset-sized products per subset. The within-subset ones use ``syrk``, which
    has half the multiply-adds but runs at a lower rate (OpenBLAS, 2 cores, 1000 x 2048: 19 ms
    against 34 ms for ``gemm``), so it is counted as 0.6 of a product."""
    pairs = n_a * n_a / 2 + n_b * n_b / 2 + n_a * n_b
    whole_set = pairs * (dim + subsets)
    per_subset = subsets * 2.2 * subset_size * subset_size * dim
    return whole_set <= per_subset


class _Products:
    """Dot products x_i.y_j of one feature set with another, at the chosen precision.

    ``"float64"``: blocks upcast to float64 (views when already float64). ``"mixed"``: blocks
    centred by ``center`` and rounded to float32, and the float64 terms that restore the
    uncentred product: x.y = (x-c).(y-c) + x.c + y.c - c.c. Blocks are written into buffers
    allocated once per slot: a 10k x 2048 set is never copied whole.
    """

    def __init__(self, features: np.ndarray, precision: str, center: np.ndarray | None):
        self.features = features
        self.precision = precision
        self.dtype = np.float32 if precision == "mixed" else np.float64
        if precision == "mixed":
            self.center = center.astype(np.float32)
            center64 = self.center.astype(np.float64)
            self.center_dots = _row_dots(features, center64)
            self.center_norm = float(center64 @ center64)
        self._buffers: dict[int, np.ndarray] = {}

    @classmethod
    def pair(cls, a: np.ndarray, b: np.ndarray, precision: str) -> tuple["_Products", "_Products"]:
        center = (_column_mean(a) + _column_mean(b)) / 2 if precision == "mixed" else None
        return cls(a, precision, center), cls(b, precision, center)

    def __len__(self) -> int:
        return len(self.features)

    def block(self, rows, slot: int) -> np.ndarray:
        """Rows (a slice or an index array) ready for the product; ``slot`` names the reused buffer."""
        source = self.features[rows]
        if self.precision == "float64":
            return source.astype(np.float64, copy=False)
        buffer = self._buffers.get(slot)
        if buffer is None or buffer.shape[0] < len(source):
            buffer = self._buffers[slot] = np.empty((len(source), source.shape[1]), dtype=np.float32)
        out = buffer[:len(source)]
        np.subtract(source, self.center, out=out, casting="unsafe")  # float64 input: x - c rounded once
        return out

    def restore(self, products: np.ndarray, rows_x, other: "_Products", rows_y) -> np.ndarray:
        """x.y in float64 from a float64 copy of the block product, in place."""
        if self.precision == "mixed":
            products += self.center_dots[rows_x][:, None]
            products += other.center_dots[rows_y][None, :]
            products -= self.center_norm
        return products


def _column_mean(features: np.ndarray, rows_per_step: int = 256) -> np.ndarray:
    total = np.zeros(features.shape[1], dtype=np.float64)
    for start in range(0, len(features), rows_per_step):
        total += features[start:start + rows_per_step].sum(axis=0, dtype=np.float64)
    return total / len(features)


def _row_dots(features: np.ndarray, vector: np.ndarray, rows_per_step: int = 256) -> np.ndarray:
    """features @ vector in float64, a block of rows at a time (a 4 MB float64 block at d = 2048,
    never a float64 copy of the set)."""
    return np.concatenate([features[start:start + rows_per_step].astype(np.float64) @ vector
                           for start in range(0, len(features), rows_per_step)])


def _kernel_sums_by_tiles(a: _Products, b: _Products, rows_a, rows_b, gamma) -> _KernelSums:
    """Every kernel value is computed once, tile by tile, and added to each subset holding its pair.

    A pair (i, j) lies in subsets s with member[i, s] and member[j, s], so a tile's contribution
    to all subsets at once is sum_i member_I[i, s] * (K_tile @ member_J)[i, s]: one small product
    (subsets columns) beside the d-deep Gram product. At 10k x 10k with 100 subsets of 1000 this
    is as much work as per-subset products; at 5k it is a quarter, as each pair is then drawn
    about four times.
    """
    member_a = _membership(len(a), rows_a)
    member_b = _membership(len(b), rows_b)
    return _KernelSums(
        within_a=_tiled_sums(a, a, member_a, member_a, gamma, symmetric=True),
        within_b=_tiled_sums(b, b, member_b, member_b, gamma, symmetric=True),
        cross=_tiled_sums(a, b, member_a, member_b, gamma, symmetric=False),
    )


def _membership(n: int, rows: np.ndarray) -> np.ndarray:
    """[n, subsets] bool: row i is in subset s (each subset draws without replacement)."""
    member = np.zeros((n, len(rows)), dtype=bool)
    member[rows, np.arange(len(rows))[:, None]] = True
    return member


def _tiled_sums(x: _Products, y: _Products, member_x, member_y, gamma, *, symmetric: bool) -> np.ndarray:
    """sum over i in s, j in s of k(x_i, y_j) for every subset s; ``symmetric`` (x is y) skips
    tiles below the diagonal block, counts those above twice and drops the i == j terms.

    The blocks and tiles live in buffers allocated once: reassigning fresh arrays would hold the
    previous iteration's copies alongside the new ones, doubling peak memory.
    """
    sums = np.zeros(member_x.shape[1], dtype=np.float64)
    tile_shape = (min(TILE_ROWS, len(x)), min(TILE_COLS, len(y)))
    products = np.empty(tile_shape, dtype=x.dtype)
    tile = products if x.dtype == np.float64 else np.empty(tile_shape, dtype=np.float64)
    for row_start in range(0, len(x), TILE_ROWS):
        rows = slice(row_start, min(row_start + TILE_ROWS, len(x)))
        x_block = x.block(rows, slot=0)
        member_rows = member_x[rows].astype(np.float64)
        for col_start, col_stop, weight in _column_blocks(rows.start, rows.stop, len(y), symmetric):
            cols = slice(col_start, col_stop)
            y_block = y.block(cols, slot=1)
            block_products = products[:len(x_block), :len(y_block)]
            kernel = tile[:len(x_block), :len(y_block)]
            np.matmul(x_block, y_block.T, out=block_products)
            if kernel is not block_products:
                np.copyto(kernel, block_products)
            x.restore(kernel, rows, y, cols)
            _poly_kernel_in_place(kernel, gamma)
            if symmetric and weight == 1.0:
                _zero_self_pairs(kernel, row_start, col_start)
            member_cols = member_y[cols].astype(np.float64)
            sums += weight * np.einsum("is,is->s", member_rows, kernel @ member_cols)
    return sums


def _poly_kernel_in_place(gram: np.ndarray, gamma: float, rows_per_step: int = 64) -> None:
    """(gamma * x.y + 1)^3 over a Gram tile, cubing by products a few rows at a time (a small
    temporary instead of a second tile)."""
    gram *= gamma
    gram += KERNEL_COEF
    for start in range(0, len(gram), rows_per_step):
        part = gram[start:start + rows_per_step]
        part *= part * part


def _column_blocks(row_start: int, row_stop: int, n_cols: int, symmetric: bool):
    """(start, stop, weight) of the column blocks paired with rows [row_start, row_stop).

    Symmetric: the diagonal block (both orders of each pair, weight 1), then the blocks to its
    right only, weight 2 for the mirror tiles below the diagonal that are never computed.
    """
    if not symmetric:
        for start in range(0, n_cols, TILE_COLS):
            yield start, min(start + TILE_COLS, n_cols), 1.0
        return
    for start in range(row_start, row_stop, TILE_COLS):
        yield start, min(start + TILE_COLS, row_stop), 1.0
    for start in range(row_stop, n_cols, TILE_COLS):
        yield start, min(start + TILE_COLS, n_cols), 2.0


def _zero_self_pairs(kernel: np.ndarray, row_start: int, col_start: int) -> None:
    """Zero k(x_i, x_i) in a tile of the diagonal band (the unbiased estimator leaves them out)."""
    rows = np.arange(kernel.shape[0])
    cols = rows + row_start - col_start
    inside = (cols >= 0) & (cols < kernel.shape[1])
    kernel[rows[inside], cols[inside]] = 0.0


def _kernel_sums_by_subset(a: _Products, b: _Products, rows_a, rows_b, gamma) -> _KernelSums:
    """One product per subset and term, when the sets are much larger than the subsets drawn.

    numpy uses the symmetric ``syrk`` kernel, half the work, for x @ x.T; each Gram block is
    reduced and freed before the next is computed, so at most one subset-sized matrix is live.
    """
    within_a = np.empty(len(rows_a))
    within_b = np.empty(len(rows_a))
    cross = np.empty(len(rows_a))
    for i, (subset_a, subset_b) in enumerate(zip(rows_a, rows_b)):
        x = a.block(subset_a, slot=0)
        y = b.block(subset_b, slot=1)
        within_a[i] = _sum_off_diagonal(_kernel(a, x, subset_a, a, x, subset_a, gamma))
        within_b[i] = _sum_off_diagonal(_kernel(b, y, subset_b, b, y, subset_b, gamma))
        cross[i] = _kernel(a, x, subset_a, b, y, subset_b, gamma).sum()
    return _KernelSums(within_a, within_b, cross)


def _kernel(a: _Products, x: np.ndarray, rows_x, b: _Products, y: np.ndarray, rows_y, gamma: float) -> np.ndarray:
    """k(x_i, y_j) in float64 for two blocks of ``a`` and ``b`` (rows_x, rows_y: their row indices)."""
    kernel = a.restore((x @ y.T).astype(np.float64, copy=False), rows_x, b, rows_y)
    _poly_kernel_in_place(kernel, gamma)
    return kernel


def _sum_off_diagonal(kernel: np.ndarray) -> float:
    return float(kernel.sum() - np.trace(kernel))
