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


def frechet_distance_to_samples(mu1, sigma1, features) -> float:
    """Frechet distance between N(mu1, sigma1) and the Gaussian fitted to ``features`` [N, d].

    Takes the exact N×N path when N < d (CI-sized batches against a large reference), the
    d×d path otherwise; both give the same number.
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
        trace_sqrt = trace_sqrt_product(sigma1, sigma2)
    return _finish(float(diff @ diff), float(np.trace(sigma1)), trace2, trace_sqrt)


class FrechetSubsets:
    """Frechet distance of many row subsets of one pooled feature matrix to one reference Gaussian.

    For permutation tests: with G = X S Xᵀ and K = X Xᵀ precomputed once over the pooled rows
    X [M, d], the distance of any subset I needs only the centred |I|×|I| blocks of G and K —
    one small ``eigvalsh`` per re-split instead of any d×d work.
    """

    def __init__(self, mu_ref, sigma_ref, pooled_rows):
        rows = np.asarray(pooled_rows, dtype=np.float64)
        mu_ref = _as_vector("mu_ref", mu_ref)
        sigma_ref = _as_covariance("sigma_ref", sigma_ref, mu_ref.shape[0])
        if rows.ndim != 2 or rows.shape[1] != mu_ref.shape[0]:
            raise ValueError(f"pooled_rows: expected [M, {mu_ref.shape[0]}], got shape {rows.shape}")
        self._cross_gram = rows @ sigma_ref @ rows.T
        self._gram = rows @ rows.T
        self._rows_dot_mu = rows @ mu_ref
        self._mu_sq = float(mu_ref @ mu_ref)
        self._trace_ref = float(np.trace(sigma_ref))

    @staticmethod
    def _centred(block: np.ndarray) -> np.ndarray:
        return block - block.mean(axis=0) - block.mean(axis=1, keepdims=True) + block.mean()

    def distance(self, indices) -> float:
        indices = np.asarray(indices)
        count = indices.shape[0]
        if count < 2:
            raise ValueError(f"indices: need at least 2 rows, got {count}")
        block = np.ix_(indices, indices)
        gram = self._gram[block]
        cross = self._centred(self._cross_gram[block]) / (count - 1)
        eigenvalues = np.linalg.eigvalsh((cross + cross.T) / 2)
        trace_sqrt = float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())
        trace_sample = float(np.trace(self._centred(gram))) / (count - 1)
        mean_term = self._mu_sq - 2.0 * float(self._rows_dot_mu[indices].mean()) + float(gram.mean())
        return _finish(mean_term, self._trace_ref, trace_sample, trace_sqrt)
