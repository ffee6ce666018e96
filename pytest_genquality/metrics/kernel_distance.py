"""Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs").

KID is the squared maximum mean discrepancy between two feature sets under the cubic
polynomial kernel k(x, y) = (x.y / d + 1)^3, estimated without bias on random subsets and
averaged. Unlike FID it has an unbiased estimator, so values at different N are comparable in
expectation (the spread still shrinks with N). Lower is better; 0 means same distribution, and
small negative values are valid estimates.

Subsets are drawn exactly as torch-fidelity's ``kid_features_to_metric`` draws them (one
``numpy.random.RandomState(seed)``, for each subset first ``choice`` over set A then over set
B, without replacement), so the same seed gives the same number as torch-fidelity.

Precision (``precision="mixed"``, the default): with c the common mean of both sets and
u_x = gamma (x-c).c, the kernel splits as k = w^3 + P (P^2 + 3 w (P + w)), P = gamma (x-c).(y-c),
w = 1 + gamma c.c + u_x + u_y. The offset part w^3 varies with i and j only through u_x + u_y,
so its sums over each subset come from power sums of u in float64, with no tile at all. The
centred part, nearly all the work (the d-deep Gram products, the polynomial, the products with
the subset-membership matrix), runs in float32: its values are the size of the kernel's spread,
not of the kernel (Inception pool features are non-negative with a large common mean), so
float32 round-off stays at that scale. Each tile's share of each subset (at most TILE_COLS
terms) and everything after are float64. On 10k x 10k Inception-like features the mean is
4e-10 relative from the all-float64 computation (``precision="float64"``, the same split in
float64), where torch-fidelity, float32 throughout, is 4e-6 away.

Speed at 10k x 10k: every pair is computed once (the symmetric halves once), the same number
of d-deep products as torch-fidelity's per-subset ``syrk`` and ``gemm`` (4.2 of our 5 s), so
the rest decides. A tile's right-hand side is the float32 features themselves, not a centred
copy made again for every row block, whenever the common mean is not large against the spread
(``RAW_OFFSET_RATIO``): (x-c).y = (x-c).(y-c) + (x-c).c, and the last term is known per row.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from .validation import as_features, check_int, check_same_dim

KID_SUBSETS = 100  # torch-fidelity default
KID_SUBSET_SIZE = 1000  # Binkowski et al. 2018, torch-fidelity default
# The kernel is cubic, k(x, y) = (gamma x.y + KERNEL_COEF)^3 (Binkowski et al. 2018); the degree is not a
# parameter: the sums below use the expansion of the cube (see _Products).
KERNEL_COEF = 1.0
PRECISIONS = ("mixed", "float64")

# Tiles of the whole-set kernel matrix: row blocks of TILE_ROWS x column blocks of TILE_COLS,
# each filled by one product from a view of the float32 features, or GEMM_COLS columns at a
# time from a float32 copy (float64 features, or centred columns). Peak memory at d = 2048,
# mixed precision: the centred float32 row block (8 MB), the column copy if any (4 MB) and the
# tile (4 MB), below torch-fidelity's per-subset float32 copies and kernel matrices. 1000-row
# products keep BLAS near its full rate (OpenBLAS, 2 cores: 1000 x 500 products beat 1000 x 250
# by a quarter), and 1000-deep membership products run at the sgemm rate where 250-deep ones ran
# at half of it.
TILE_ROWS = 1000
TILE_COLS = 1000
GEMM_COLS = 500

# Largest mean ||y||^2 / mean ||y - c||^2 (of either set) at which tiles multiply the centred row
# block by the uncentred float32 features (see ``_Products.columns``). Their products then err by
# float32 round-off of ||y|| instead of ||y - c||, a few times more: measured on Inception-like
# features (ratio 3), 1.2e-9 relative at 5k instead of 1.2e-10, 3.8e-10 at 10k instead of 4.6e-10,
# far inside torch-fidelity's 3e-6. Above it (a large common offset) the columns are centred
# copies, as the rows always are.
RAW_OFFSET_RATIO = 16.0


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


def kid(
    feats_a,
    feats_b,
    *,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = 0,
    precision: str = "mixed",
) -> KIDEstimate:
    """Mean and population std of the unbiased MMD^2 over ``subsets`` random subsets.

    feats_a, feats_b: [N_a, D], [N_b, D] features (numpy or torch, float32 or float64; never
    copied whole). Each needs at least 2 rows (the unbiased estimator divides by
    m(m-1)). ``subset_size`` larger than the smaller set is clipped to it with a UserWarning,
    and the result's ``.subset_size`` says the size used.
    precision: ``"mixed"`` (default: the centred part of the kernel in float32, the rest and every
    sum over a subset in float64; see the module docstring; recomputed in float64 if float32
    overflows, features beyond about 1e6) or ``"float64"`` (every step in float64, about half as fast).
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
    with np.errstate(over="ignore", invalid="ignore"):  # a float32 overflow is redone in float64 below
        estimates = _mmd_estimates(a, b, rows_a, rows_b, precision)
    if not np.isfinite(estimates).all():
        estimates = _mmd_estimates(a, b, rows_a, rows_b, "float64")
    return KIDEstimate(estimates.mean(), estimates.std(), subset_size=subset_size, subsets=subsets)


def _mmd_estimates(a: np.ndarray, b: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray, precision: str) -> np.ndarray:
    """Unbiased MMD^2 [subsets] float64 of the subsets ``rows_a``, ``rows_b`` [subsets, m]."""
    cheaper = _whole_set_is_cheaper(len(a), len(b), *rows_a.shape, a.shape[1])
    a, b = _Products.pair(a, b, precision, gamma=1.0 / a.shape[1])
    if cheaper:
        sums = _kernel_sums_by_tiles(a, b, rows_a, rows_b)
    else:
        sums = _kernel_sums_by_subset(a, b, rows_a, rows_b)
    scale = a.gamma**3  # the tiles hold the centred part over gamma^3
    within_a = scale * sums.within_a + _offset_sums(a, a, rows_a, rows_a, symmetric=True)
    within_b = scale * sums.within_b + _offset_sums(b, b, rows_b, rows_b, symmetric=True)
    cross = scale * sums.cross + _offset_sums(a, b, rows_a, rows_b, symmetric=False)
    m = rows_a.shape[1]
    return (within_a + within_b) / (m * (m - 1)) - 2.0 * cross / (m * m)


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
    """Per subset [subsets] float64: sums of the kernel's centred part over gamma^3 (``_Products``)
    within a and within b (diagonal excluded), and across; ``_offset_sums`` gives the rest."""

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
    """Kernel values of one feature set against another, split into an exact part and a tiled part.

    With c the common centre, P = gamma (x-c).(y-c) and w = 1 + gamma c.c + u_x + u_y,
    u_x = gamma (x-c).c, the kernel is k = (P + w)^3 = w^3 + P (P^2 + 3 w (P + w)).
    The offset part w^3 depends on i and j only through u_x + u_y: its sums over a subset's pairs
    come from power sums of u in float64 (``_offset_sums``). The centred part is computed block
    by block at ``dtype``: row blocks hold x - c rounded once, their Gram is Q = P / gamma, and
    every float32 step of Q (Q (Q + 3 w') + 3 w'^2), w' = w / gamma, errs by a few float32
    ulps of that part alone (a feature set with a large common offset keeps its digits). The
    tiles hold the centred part divided by gamma^3; the float64 sums are scaled back. Blocks are
    written into buffers allocated once per slot and shared by both sets: a 10k x 2048 set is
    never copied whole.
    """

    def __init__(self, features: np.ndarray, dtype, center: np.ndarray, gamma: float, buffers: dict, raw_columns: bool):
        self.features = features
        self.dtype = dtype
        self.center = center.astype(dtype)
        center64 = self._center64 = self.center.astype(np.float64)
        center_norm = float(center64 @ center64)
        self.gamma = gamma
        self.t0 = gamma * center_norm + KERNEL_COEF
        self.offsets = gamma * (_row_dots(features, center64) - center_norm)  # u, float64
        halves = (self.t0 / 2 + self.offsets) / gamma  # w' = halves_x + halves_y, float64
        self.thirds = (3 * halves).astype(dtype)  # 3 w' = thirds_x + thirds_y
        self.roots = (math.sqrt(3) * halves).astype(dtype)  # 3 w'^2 = (roots_x + roots_y)^2
        self.raw_columns = raw_columns
        self._buffers = buffers

    @classmethod
    def pair(cls, a: np.ndarray, b: np.ndarray, precision: str, gamma: float) -> tuple["_Products", "_Products"]:
        dtype = np.float32 if precision == "mixed" else np.float64
        mixed = dtype == np.float32  # only mixed precision may multiply by raw columns: squares needed then
        moments_a, moments_b = _column_moments(a, squares=mixed), _column_moments(b, squares=mixed)
        center = (moments_a[0] + moments_b[0]) / 2
        raw = mixed and max(_offset_ratio(*moments_a, center), _offset_ratio(*moments_b, center)) <= RAW_OFFSET_RATIO
        buffers: dict[int, np.ndarray] = {}  # one per slot for both sets: a block of a and one of b never share a slot
        return cls(a, dtype, center, gamma, buffers, raw), cls(b, dtype, center, gamma, buffers, raw)

    def __len__(self) -> int:
        return len(self.features)

    def block(self, rows, slot: int) -> np.ndarray:
        """x - c for rows (a slice or an index array); ``slot`` names the reused buffer."""
        source = self.features[rows]
        out = self._buffer(slot, len(source))
        np.subtract(source, self.center, out=out, casting="unsafe")  # float64 input: x - c rounded once
        return out

    def columns(self, cols: slice, slot: int) -> np.ndarray:
        """The right-hand block of a tile: the features themselves when ``raw_columns`` (a view
        of float32 features, else a copy rounded once), y - c otherwise. The tile's Gram is then
        (x - c).y, and ``centred_kernel`` takes off (x - c).c, the row's offset."""
        if not self.raw_columns:
            return self.block(cols, slot)
        source = self.features[cols]
        if source.dtype == self.dtype:
            return source
        out = self._buffer(slot, len(source))
        out[...] = source
        return out

    def block_offsets(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x - c).c of the rows of a ``block``, as rounded, in float64 and split into two float32
        parts: the part of a raw-column Gram that ``centred_kernel`` takes off. From the rounded
        block, not from x: x - c rounds every element, and those round-offs dotted with c would
        shift a whole row of the tile by the same 1e-7 relative, which no sum averages away."""
        offsets = _row_dots(block, self._center64, rows_per_step=64)
        high = offsets.astype(self.dtype)
        return high, (offsets - high).astype(self.dtype)

    @property
    def copies_columns(self) -> bool:
        """Whether ``columns`` writes into a buffer (then filled GEMM_COLS at a time) or returns a view."""
        return not self.raw_columns or self.features.dtype != self.dtype

    def _buffer(self, slot: int, rows: int) -> np.ndarray:
        buffer = self._buffers.get(slot)
        if buffer is None or buffer.shape[0] < rows:
            buffer = self._buffers[slot] = np.empty((rows, self.features.shape[1]), dtype=self.dtype)
        return buffer[:rows]

    def centred_kernel(
        self,
        gram: np.ndarray,
        rows_x,
        other: "_Products",
        rows_y,
        row_offsets: tuple[np.ndarray, np.ndarray] | None = None,
        rows_per_step: int = 64,
    ) -> np.ndarray:
        """The centred part of the kernel over gamma^3, Q (Q (Q + 3 w') + 3 w'^2), in place of the
        Gram of two blocks. ``row_offsets`` (from ``block_offsets``) when the Gram is (x - c).y,
        raw columns: Q is the Gram less them. A few rows at a time: two small temporaries instead
        of two more tiles, and each row step stays in cache through its passes."""
        thirds_x, thirds_y = self.thirds[rows_x][:, None], other.thirds[rows_y][None, :]
        roots_x, roots_y = self.roots[rows_x][:, None], other.roots[rows_y][None, :]
        if row_offsets is not None:
            offsets_high, offsets_low = (part[:, None] for part in row_offsets)
        shape = (min(rows_per_step, len(gram)), gram.shape[1])
        total_buffer, square_buffer = np.empty(shape, dtype=gram.dtype), np.empty(shape, dtype=gram.dtype)
        for start in range(0, len(gram), rows_per_step):
            step = slice(start, start + rows_per_step)
            centred = gram[step]
            total, square = total_buffer[: len(centred)], square_buffer[: len(centred)]
            if row_offsets is not None:
                centred -= offsets_high[step]
                centred -= offsets_low[step]
            np.add(centred, thirds_x[step], out=total)
            total += thirds_y  # Q + 3 w'
            total *= centred
            np.add(roots_x[step], roots_y, out=square)
            square *= square  # 3 w'^2
            total += square
            centred *= total
        return gram


def _offset_sums(x: _Products, y: _Products, rows_x: np.ndarray, rows_y: np.ndarray, *, symmetric: bool) -> np.ndarray:
    """sum over i in s, j in s of w_ij^3 - t0^3 (see ``_Products``) for every subset s, in float64.

    With z = u_i + v_j, w^3 - t0^3 = 3 t0^2 z + 3 t0 z^2 + z^3, and the sum of z^k over the pairs
    of a subset is sum_a binom(k, a) (sum_i u_i^a) (sum_j v_j^(k-a)). ``symmetric`` drops i == j.
    t0^3 cancels in the unbiased MMD, as any constant added to the kernel does.
    """
    t0 = x.t0
    powers_x = [(x.offsets[rows_x] ** k).sum(axis=1) for k in range(4)]
    powers_y = [(y.offsets[rows_y] ** k).sum(axis=1) for k in range(4)]
    z1, z2, z3 = [sum(math.comb(k, a) * powers_x[a] * powers_y[k - a] for a in range(k + 1)) for k in (1, 2, 3)]
    sums = 3 * t0 * t0 * z1 + 3 * t0 * z2 + z3
    if symmetric:
        self_pairs = 2 * x.offsets[rows_x]
        sums -= (self_pairs * (3 * t0 * t0 + self_pairs * (3 * t0 + self_pairs))).sum(axis=1)
    return sums


def _column_moments(
    features: np.ndarray, *, squares: bool, rows_per_step: int = 256
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-column mean and (``squares``) mean square in float64, a block of rows at a time."""
    total = np.zeros(features.shape[1], dtype=np.float64)
    square_total = np.zeros(features.shape[1], dtype=np.float64) if squares else None
    for start in range(0, len(features), rows_per_step):
        block = features[start : start + rows_per_step].astype(np.float64)
        total += block.sum(axis=0)
        if squares:
            square_total += np.einsum("ij,ij->j", block, block)
    return total / len(features), None if square_total is None else square_total / len(features)


def _offset_ratio(mean: np.ndarray, mean_square: np.ndarray, center: np.ndarray) -> float:
    """mean ||y||^2 / mean ||y - c||^2 of one set: how much larger the uncentred products are."""
    spread = float((mean_square - 2 * center * mean + center * center).sum())
    return float(mean_square.sum()) / spread if spread > 0 else math.inf


def _row_dots(features: np.ndarray, vector: np.ndarray, rows_per_step: int = 256) -> np.ndarray:
    """features @ vector in float64, a block of rows at a time (a 4 MB float64 block at d = 2048,
    never a float64 copy of the set)."""
    return np.concatenate(
        [
            features[start : start + rows_per_step].astype(np.float64) @ vector
            for start in range(0, len(features), rows_per_step)
        ]
    )


def _kernel_sums_by_tiles(a: _Products, b: _Products, rows_a, rows_b) -> _KernelSums:
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
        within_a=_tiled_sums(a, a, member_a, member_a, symmetric=True),
        within_b=_tiled_sums(b, b, member_b, member_b, symmetric=True),
        cross=_tiled_sums(a, b, member_a, member_b, symmetric=False),
    )


def _membership(n: int, rows: np.ndarray) -> np.ndarray:
    """[n, subsets] bool: row i is in subset s (each subset draws without replacement)."""
    member = np.zeros((n, len(rows)), dtype=bool)
    member[rows, np.arange(len(rows))[:, None]] = True
    return member


def _tiled_sums(x: _Products, y: _Products, member_x, member_y, *, symmetric: bool) -> np.ndarray:
    """sum over i in s, j in s of the centred part of k(x_i, y_j) (see ``_Products``) for every
    subset s; ``symmetric`` (x is y) skips tiles below the diagonal block, counts those above
    twice and drops the i == j terms.

    A tile is filled GEMM_COLS columns at a time (a small right-hand block), the diagonal tile by
    ``syrk``. The membership product runs at the blocks' precision on the centred part (the size
    of the kernel's spread); each tile's share of a subset (at most TILE_COLS terms) is then
    added in float64. The blocks and tiles live in buffers allocated once: reassigning fresh
    arrays would hold the previous iteration's copies alongside the new ones, doubling peak memory.
    """
    sums = np.zeros(member_x.shape[1], dtype=np.float64)
    tile = np.empty((min(TILE_ROWS, len(x)), min(TILE_COLS, len(y))), dtype=x.dtype)
    gemm_cols = GEMM_COLS if y.copies_columns else TILE_COLS  # views need no buffer: one product per tile
    for row_start in range(0, len(x), TILE_ROWS):
        rows = slice(row_start, min(row_start + TILE_ROWS, len(x)))
        x_block = x.block(rows, slot=0)
        offsets = x.block_offsets(x_block) if y.raw_columns else None
        member_rows = member_x[rows].astype(np.float64)
        for col_start, col_stop, weight in _column_blocks(rows.start, rows.stop, len(y), symmetric):
            cols = slice(col_start, col_stop)
            kernel = tile[: len(x_block), : col_stop - col_start]
            diagonal = symmetric and (col_start, col_stop) == (rows.start, rows.stop)
            if diagonal:
                np.matmul(x_block, x_block.T, out=kernel)  # numpy calls syrk for x @ x.T
            else:
                for start in range(col_start, col_stop, gemm_cols):
                    stop = min(start + gemm_cols, col_stop)
                    np.matmul(
                        x_block,
                        y.columns(slice(start, stop), slot=1).T,
                        out=kernel[:, start - col_start : stop - col_start],
                    )
            x.centred_kernel(kernel, rows, y, cols, None if diagonal else offsets)
            if symmetric and weight == 1.0:
                _zero_self_pairs(kernel, row_start, col_start)
            shares = (kernel @ member_y[cols].astype(x.dtype)).astype(np.float64)
            sums += weight * np.einsum("is,is->s", member_rows, shares)
    return sums


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


def _kernel_sums_by_subset(a: _Products, b: _Products, rows_a, rows_b) -> _KernelSums:
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
        within_a[i] = _sum_off_diagonal(a.centred_kernel(x @ x.T, subset_a, a, subset_a))
        within_b[i] = _sum_off_diagonal(b.centred_kernel(y @ y.T, subset_b, b, subset_b))
        cross[i] = a.centred_kernel(x @ y.T, subset_a, b, subset_b).sum(dtype=np.float64)
    return _KernelSums(within_a, within_b, cross)


def _sum_off_diagonal(kernel: np.ndarray) -> float:
    return float(kernel.sum(dtype=np.float64) - np.trace(kernel, dtype=np.float64))
