"""Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs").

KID is the squared maximum mean discrepancy between two feature sets under the cubic
polynomial kernel k(x, y) = (x.y / d + 1)^3, estimated without bias on random subsets and
averaged. Unlike FID it has an unbiased estimator, so values at different N are comparable in
expectation (the spread still shrinks with N). Lower is better; 0 means same distribution, and
small negative values are valid estimates.

Subsets are drawn exactly as torch-fidelity's ``kid_features_to_metric`` draws them (one
``numpy.random.RandomState(seed)``, for each subset first ``choice`` over set A then over set
B, without replacement), so the same seed gives the same number as torch-fidelity.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._validate import as_features, check_int, check_same_dim

KID_SUBSETS = 100  # torch-fidelity default
KID_SUBSET_SIZE = 1000  # Binkowski et al. 2018, torch-fidelity default
KERNEL_DEGREE = 3  # cubic polynomial kernel, Binkowski et al. 2018
KERNEL_COEF = 1.0

# A Gram matrix of the whole set is computed once (instead of once per subset) when it holds at
# most this many entries (8 bytes each: 64 MiB) and costs fewer products than the subsets would.
PRECOMPUTED_GRAM_MAX_ENTRIES = 8 * 1024 * 1024


def kid(feats_a, feats_b, *, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = 0) -> tuple[float, float]:
    """Mean and population std of the unbiased MMD^2 over ``subsets`` random subsets.

    feats_a, feats_b: [N_a, D], [N_b, D] features (numpy or torch; float32 is upcast to
    float64 one subset at a time). Each needs at least 2 rows (the unbiased estimator divides by
    m(m-1)). ``subset_size`` larger than the smaller set is clipped to it with a UserWarning.
    Returns (mean, std) in the kernel's units (Inception pool features: typically 1e-4 .. 1e-1).
    """
    a = as_features(feats_a, "feats_a", min_rows=2, why="the unbiased MMD needs 2 samples per set")
    b = as_features(feats_b, "feats_b", min_rows=2, why="the unbiased MMD needs 2 samples per set")
    check_same_dim(a, b, "feats_a", "feats_b")
    subsets = check_int(subsets, "subsets", minimum=1)
    subset_size = check_int(subset_size, "subset_size", minimum=2)
    seed = check_int(seed, "seed", minimum=0)

    smaller = min(len(a), len(b))
    if subset_size > smaller:
        warnings.warn(
            f"subset_size={subset_size} is larger than the smaller feature set ({len(a)} vs {len(b)} "
            f"rows); using subset_size={smaller}",
            UserWarning,
            stacklevel=2,
        )
        subset_size = smaller

    gamma = 1.0 / a.shape[1]
    gram_aa = _GramSource(a, a, subsets, subset_size)
    gram_bb = _GramSource(b, b, subsets, subset_size)
    gram_ab = _GramSource(a, b, subsets, subset_size)
    rng = np.random.RandomState(seed)
    estimates = np.empty(subsets, dtype=np.float64)
    for i in range(subsets):
        rows_a = rng.choice(len(a), subset_size, replace=False)
        rows_b = rng.choice(len(b), subset_size, replace=False)
        estimates[i] = _mmd2_unbiased(
            _poly_kernel(gram_aa.block(rows_a, rows_a), gamma),
            _poly_kernel(gram_ab.block(rows_a, rows_b), gamma),
            _poly_kernel(gram_bb.block(rows_b, rows_b), gamma),
        )
    return float(estimates.mean()), float(estimates.std())


class _GramSource:
    """Inner products x_i . y_j for subsets of rows, in float64.

    When the full Gram matrix is small and cheaper than recomputing it per subset (e.g. 256
    generated images against 2 000 references), it is computed once and subsets are gathered
    from it; otherwise each subset block is one BLAS product (numpy uses the symmetric ``syrk``
    kernel, half the work, when both operands are the same array).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, subsets: int, subset_size: int):
        self.x, self.y = x, y
        self.same = x is y
        entries = len(x) * len(y)
        self.full = None
        if entries <= PRECOMPUTED_GRAM_MAX_ENTRIES and entries < subsets * subset_size * subset_size:
            x64 = x.astype(np.float64, copy=False)
            self.full = x64 @ x64.T if self.same else x64 @ y.astype(np.float64, copy=False).T

    def block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        if self.full is not None:
            return self.full[np.ix_(rows, cols)]
        x_rows = self.x[rows].astype(np.float64, copy=False)
        if self.same and rows is cols:
            return x_rows @ x_rows.T
        return x_rows @ self.y[cols].astype(np.float64, copy=False).T


def _poly_kernel(gram: np.ndarray, gamma: float) -> np.ndarray:
    """(gamma * x.y + 1)^3, in place on a fresh Gram block (cubing by products, not pow)."""
    gram *= gamma
    gram += KERNEL_COEF
    kernel = gram * gram
    kernel *= gram
    return kernel


def _mmd2_unbiased(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray) -> float:
    """Unbiased MMD^2 of Binkowski et al.: within-set means without the diagonal.

    The cross term keeps its diagonal (x_i and y_i are independent draws), as in torch-fidelity's
    ``mmd2(..., mmd_est="unbiased")`` and torchmetrics' ``maximum_mean_discrepancy``.
    """
    m = k_xx.shape[0]
    within_x = k_xx.sum() - np.trace(k_xx)
    within_y = k_yy.sum() - np.trace(k_yy)
    return float((within_x + within_y) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))
