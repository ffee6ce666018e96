"""Frechet distance between Gaussians, as in FID (Heusel et al. 2017).

    d² = |mu1 - mu2|² + Tr(S1) + Tr(S2) - 2 Tr( (S1^½ S2 S1^½)^½ )

pytorch-fid evaluates the last term with ``scipy.linalg.sqrtm(S1 @ S2)``: a general Schur
decomposition of a non-symmetric matrix, slow and numerically fragile (complex round-off,
broken outright in scipy 1.11.2-1.12). We use the symmetric form, whose every step is a
symmetric eigendecomposition: S1^½ S2 S1^½ (or, congruently, Lᵀ S2 L with S1 = L Lᵀ) is
symmetric PSD, so its trace-sqrt is the sum of the square roots of its eigenvalues.

When one side is a sample of N < d feature rows X (centred Xc, S2 = XcᵀXc/(N-1)), the
non-zero eigenvalues of S1^½ S2 S1^½ = BᵀB, B = Xc S1^½ / √(N-1), are those of
B Bᵀ = Xc S1 Xcᵀ / (N-1), an N×N matrix: exact, and far cheaper than any d×d work.
"""

from __future__ import annotations

import numpy as np

# Round-off tolerance: a distance more negative than this fraction of the traces is a bug.
NEGATIVE_TOLERANCE = 1e-7
# A distance within this fraction of the traces of zero, either sign, is round-off of an exact 0
# (FID(x, x) came out +7e-15 against traces of 32 with this machine's OpenBLAS kernels).
ROUND_OFF_TOLERANCE = 1e-13


def _as_vector(name: str, x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D mean vector, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return x


def _as_covariance(name: str, x, dim: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (dim, dim):
        raise ValueError(f"{name}: expected a {dim}x{dim} covariance matrix, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return x


def sqrtm_psd(sigma: np.ndarray) -> np.ndarray:
    """Symmetric PSD square root by eigh; tiny negative eigenvalues (round-off) become 0."""
    sigma = np.asarray(sigma, dtype=np.float64)
    sigma = (sigma + sigma.T) / 2
    eigenvalues, eigenvectors = np.linalg.eigh(sigma)
    roots = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * roots) @ eigenvectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, *, sqrt_sigma1: np.ndarray | None = None) -> float:
    """Tr((S1^½ S2 S1^½)^½); pass a precomputed ``sqrt_sigma1`` to skip the factorisation of S1.

    Without it, S1 = L Lᵀ by Cholesky when S1 is positive definite: Lᵀ S2 L is symmetric and
    has the eigenvalues of S1 S2, so one Cholesky + one ``eigvalsh`` replace an ``eigh`` with
    eigenvectors (about twice as fast at d = 2048). A singular S1 falls back to the eigh root.
    """
    if sqrt_sigma1 is None:
        try:
            factor = np.linalg.cholesky((sigma1 + sigma1.T) / 2)
        except np.linalg.LinAlgError:
            factor = None
        if factor is not None:
            middle = factor.T @ sigma2 @ factor
            eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
            return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())
    root = sqrtm_psd(sigma1) if sqrt_sigma1 is None else sqrt_sigma1
    middle = root @ sigma2 @ root
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def trace_sqrt_product_lowrank(sigma1: np.ndarray, features: np.ndarray) -> float:
    """Tr((S1^½ S2 S1^½)^½) with S2 the sample covariance of ``features`` [N, d], exact.

    Uses the N×N matrix Xc S1 Xcᵀ/(N-1); cheaper than the d×d path whenever N < d.
    """
    features = np.asarray(features, dtype=np.float64)
    count = features.shape[0]
    centred = features - features.mean(axis=0)
    gram = centred @ sigma1 @ centred.T / (count - 1)
    eigenvalues = np.linalg.eigvalsh((gram + gram.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def _finish(mean_term: float, trace1: float, trace2: float, trace_sqrt: float) -> float:
    distance = mean_term + trace1 + trace2 - 2.0 * trace_sqrt
    scale = max(trace1 + trace2 + mean_term, 1e-300)
    if distance < ROUND_OFF_TOLERANCE * scale:
        if distance < -NEGATIVE_TOLERANCE * scale:
            raise ArithmeticError(
                f"Frechet distance came out materially negative ({distance:.6g} against a scale of "
                f"{scale:.6g}); the covariances are not positive semi-definite"
            )
        return 0.0
    return float(distance)


def frechet_distance(mu1, sigma1, mu2, sigma2, *, sqrt_sigma1: np.ndarray | None = None) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64.

    ``sqrt_sigma1``: optional precomputed S1^½ (``ReferenceStats`` stores it), which halves the work.
    """
    mu1 = _as_vector("mu1", mu1)
    mu2 = _as_vector("mu2", mu2)
    if mu1.shape != mu2.shape:
        raise ValueError(f"mu1, mu2: dimensions differ ({mu1.shape[0]} vs {mu2.shape[0]})")
    dim = mu1.shape[0]
    sigma1 = _as_covariance("sigma1", sigma1, dim)
    sigma2 = _as_covariance("sigma2", sigma2, dim)
    diff = mu1 - mu2
    trace_sqrt = trace_sqrt_product(sigma1, sigma2, sqrt_sigma1=sqrt_sigma1)
    return _finish(float(diff @ diff), float(np.trace(sigma1)), float(np.trace(sigma2)), trace_sqrt)


def frechet_distance_to_samples(mu1, sigma1, features, *, sqrt_sigma1=None) -> float:
    """Frechet distance between N(mu1, sigma1) and the Gaussian fitted to ``features`` [N, d].

    Takes the exact N×N path when N < d (CI-sized batches against a large reference), the
    d×d path otherwise; both give the same number. This is the one place that choice is made.
    ``sqrt_sigma1``: S1^½, or a function returning it (``ReferenceStats.matrix_sqrt``), used
    only on the d×d path, where it saves one eigendecomposition.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features: expected a 2-D [N, d] array, got shape {features.shape}")
    if features.shape[0] < 2:
        raise ValueError(f"features: need at least 2 samples for a covariance, got {features.shape[0]}")
    if not np.isfinite(features).all():
        raise ValueError("features: contains NaN or infinite values")
    mu1 = _as_vector("mu1", mu1)
    if features.shape[1] != mu1.shape[0]:
        raise ValueError(f"features: dimension {features.shape[1]} does not match mu1's {mu1.shape[0]}")
    sigma1 = _as_covariance("sigma1", sigma1, mu1.shape[0])
    count, dim = features.shape
    mu2 = features.mean(axis=0)
    centred = features - mu2
    diff = mu1 - mu2
    trace2 = float((centred * centred).sum() / (count - 1))
    if count < dim:
        trace_sqrt = trace_sqrt_product_lowrank(sigma1, features)
    else:
        sigma2 = centred.T @ centred / (count - 1)
        trace_sqrt = trace_sqrt_product(
            sigma1, sigma2, sqrt_sigma1=sqrt_sigma1() if callable(sqrt_sigma1) else sqrt_sigma1
        )
    return _finish(float(diff @ diff), float(np.trace(sigma1)), trace2, trace_sqrt)


# FrechetSubsets keeps the pooled M x M Gram X S Xᵀ (M² float64: 128 MB at 4096 rows) only up to
# this many rows; beyond, each subset's block is formed from the whitened rows when needed.
GRAM_MAX_ROWS = 4096


class FrechetSubsets:
    """Frechet distance of many row subsets of one pooled feature matrix to one reference Gaussian.

    For permutation tests. The pooled rows X [M, d] are centred once at their own mean c (FID is
    shift-invariant when the reference mean moves with them, and centring keeps the sums below
    free of cancellation) and, when needed, whitened once: W = (X - c) F with F Fᵀ = S (the given
    ``sqrt_sigma_ref``, e.g. ``ReferenceStats.sqrt_sigma``, else a Cholesky factor), so that
    X S Xᵀ = W Wᵀ. A subset I of n rows then needs:

    - Tr((S^½ S_I S^½)^½): the square roots of the eigenvalues of Wc_I Wc_Iᵀ / (n-1) (n×n, Wc_I
      the rows of W_I centred), read from the pooled Gram X S Xᵀ = W Wᵀ when it is kept
      (M <= ``GRAM_MAX_ROWS``; then no factor of S is needed: the Gram is two products), else
      formed from W: n×n when n < d, Wc_Iᵀ Wc_I / (n-1) (d×d) when n >= d. All exact (the same
      non-zero eigenvalues), one ``eigvalsh`` per subset.
    - Tr(S_I) and the mean term: from the subset's mean and the rows' squared norms, O(M d).

    Memory is O(M d) plus the Gram when kept: at N = 5000 (M = 10 000 rows, d = 2048) the
    subsets take the d×d path and no M×M matrix is built.
    """

    def __init__(self, mu_ref, sigma_ref, pooled_rows, *, sqrt_sigma_ref=None, eigenvalues: str = "float64"):
        """``eigenvalues="float32"``: each subset's eigenvalues from a float32 ``evr`` (1.5x faster
        at n = 512). The centred block's zero eigenvalue then rounds to ~1e-7 of the largest, and
        its root moves the distance: 1e-8 relative at d = 2048, n = 512, up to ~1e-5 for a small
        FID; the seed-noise SD built on it moved by 4e-6 and 6e-4 relative in those cases. For that
        estimate only, whose own statistical error (~9 %) dwarfs the rounding; the gate's
        statistics stay float64."""
        if eigenvalues not in ("float64", "float32"):
            raise ValueError(f"eigenvalues: expected 'float64' or 'float32', got {eigenvalues!r}")
        self._eigenvalues = eigenvalues
        rows = np.asarray(pooled_rows, dtype=np.float64)
        mu_ref = _as_vector("mu_ref", mu_ref)
        sigma_ref = _as_covariance("sigma_ref", sigma_ref, mu_ref.shape[0])
        if rows.ndim != 2 or rows.shape[1] != mu_ref.shape[0]:
            raise ValueError(f"pooled_rows: expected [M, {mu_ref.shape[0]}], got shape {rows.shape}")
        centre = rows.mean(axis=0)
        centred = rows - centre
        self._centred_rows = centred
        self._whitened, self._gram = None, None
        if sqrt_sigma_ref is None and rows.shape[0] <= GRAM_MAX_ROWS:
            gram = (centred @ sigma_ref) @ centred.T  # two products: cheaper than factorising S first
            self._gram = (gram + gram.T) / 2
        else:
            self._whitened = centred @ self._factor(sigma_ref, sqrt_sigma_ref)
            if rows.shape[0] <= GRAM_MAX_ROWS:
                self._gram = self._whitened @ self._whitened.T
        self._row_norms = np.einsum("ij,ij->i", centred, centred)
        self._mu_offset = mu_ref - centre
        self._trace_ref = float(np.trace(sigma_ref))

    @staticmethod
    def _factor(sigma_ref: np.ndarray, sqrt_sigma_ref) -> np.ndarray:
        """F with F Fᵀ = S: the given S^½, else Cholesky, else the eigh root (singular S)."""
        if sqrt_sigma_ref is not None:
            return np.asarray(sqrt_sigma_ref, dtype=np.float64)
        try:
            return np.linalg.cholesky((sigma_ref + sigma_ref.T) / 2)
        except np.linalg.LinAlgError:
            return sqrtm_psd(sigma_ref)

    def _subset_mean(self, indices: np.ndarray) -> np.ndarray:
        weights = np.zeros(self._centred_rows.shape[0])
        np.add.at(weights, indices, 1.0 / indices.shape[0])
        return weights @ self._centred_rows

    def _trace_sqrt(self, indices: np.ndarray) -> float:
        count = indices.shape[0]
        if self._gram is not None:
            block = self._gram[np.ix_(indices, indices)]
            row_means = block.mean(axis=1)
            block -= row_means[:, None]
            block -= row_means[None, :]
            block += row_means.mean()
        else:
            whitened = self._whitened[indices]
            whitened -= whitened.mean(axis=0)
            block = whitened @ whitened.T if count < whitened.shape[1] else whitened.T @ whitened
        if self._eigenvalues == "float32":
            from scipy.linalg import eigh

            eigenvalues = eigh(block.astype(np.float32), eigvals_only=True, driver="evr", check_finite=False).astype(
                np.float64
            ) / (count - 1)
        else:
            eigenvalues = np.linalg.eigvalsh(block) / (count - 1)
        return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())

    def distance(self, indices) -> float:
        indices = np.asarray(indices)
        count = indices.shape[0]
        if count < 2:
            raise ValueError(f"indices: need at least 2 rows, got {count}")
        mean = self._subset_mean(indices)
        mean_sq = float(mean @ mean)
        trace_sample = (float(self._row_norms[indices].sum()) - count * mean_sq) / (count - 1)
        offset = self._mu_offset - mean
        return _finish(float(offset @ offset), self._trace_ref, trace_sample, self._trace_sqrt(indices))
