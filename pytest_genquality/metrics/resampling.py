"""Metric values of many row subsets of one pooled set, for permutation tests.

A permutation test re-splits the pooled baseline + current rows a few hundred times and
recomputes the metric of each half. Recomputing from scratch would redo the reference-side
work every time (distances to 10k real samples, kernel sums); these evaluators do everything
that does not depend on the split once, so each re-split costs O(n²) on the pooled rows.

The statistics are the metric's own definition on the subset, with one documented
simplification: kernel metrics use the full-set unbiased MMD² instead of KID's random
subsets (the subset average has the same expectation; the test needs a deterministic
statistic, and the reference-only term cancels in every difference).
"""

from __future__ import annotations

import numpy as np

from .prdc import _kth_neighbour_sq_radii as kth_neighbour_sq_radii


def pairwise_sq_distances(rows: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
    """Squared Euclidean distances [len(rows), len(others)] (others: rows itself), float64, by
    products, clamped at 0."""
    others = rows if others is None else others
    row_norms = (rows * rows).sum(1)
    other_norms = row_norms if others is rows else (others * others).sum(1)
    return np.clip(row_norms[:, None] + other_norms[None, :] - 2.0 * rows @ others.T, 0.0, None)


def _offdiagonal_mean(block: np.ndarray) -> float:
    count = block.shape[0]
    return float((block.sum() - np.trace(block)) / (count * (count - 1)))


class KernelMMDSubsets:
    """Unbiased MMD² between each subset of ``pooled`` and ``reference`` under a kernel.

    ``kernel``: "polynomial" (KID: (x·y/d + 1)³) or "rbf" (CMMD: exp(-|x-y|²/(2σ²)), ×1000).
    """

    def __init__(self, reference, pooled, *, kernel: str, sigma: float = 10.0):
        reference = np.asarray(reference, dtype=np.float64)
        pooled = np.asarray(pooled, dtype=np.float64)
        if kernel == "polynomial":
            dim = reference.shape[1]
            self._kernel = lambda a, b: (a @ b.T / dim + 1.0) ** 3
            self._scale = 1.0
        elif kernel == "rbf":
            gamma = 1.0 / (2.0 * sigma**2)

            def rbf(a, b):
                squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
                return np.exp(-gamma * np.clip(squared, 0.0, None))

            self._kernel = rbf
            self._scale = 1000.0
        else:
            raise ValueError(f"kernel: expected 'polynomial' or 'rbf', got {kernel!r}")
        self._reference_term = _offdiagonal_mean(self._kernel(reference, reference)) if len(reference) <= 4096 else None
        self._pooled = self._kernel(pooled, pooled)
        self._cross = self._kernel(pooled, reference).mean(axis=1)

    def distance(self, indices) -> float:
        """MMD² of ``pooled[indices]`` (up to the constant reference term when the reference is large)."""
        indices = np.asarray(indices)
        within = _offdiagonal_mean(self._pooled[np.ix_(indices, indices)])
        value = within - 2.0 * float(self._cross[indices].mean()) + (self._reference_term or 0.0)
        return self._scale * value


def real_sq_radii(real, k: int) -> np.ndarray:
    """Squared distance of each real row to its k-th nearest other real row (chunked, float64)."""
    return kth_neighbour_sq_radii(np.asarray(real, dtype=np.float64), k)


class NeighbourhoodSubsets:
    """Precision, recall and coverage of each subset of ``pooled`` against ``real`` (k-NN balls).

    Same conventions as ``metrics.prdc`` (strict inside, k-th nearest other sample). Real radii
    and real-to-pooled distances are computed once; each subset only needs its own fake radii.
    """

    def __init__(self, real, pooled, *, k: int, real_radii=None):
        """``real_radii``: the real rows' squared k-NN radii when already known (they depend on the
        reference and k only; ``real_sq_radii(real, k)`` computes them)."""
        real = np.asarray(real, dtype=np.float64)
        pooled = np.asarray(pooled, dtype=np.float64)
        self.k = k
        real_radii = real_sq_radii(real, k) if real_radii is None else np.asarray(real_radii, dtype=np.float64)
        real_to_pooled = pairwise_sq_distances(real, pooled)
        self._real_to_pooled = real_to_pooled
        self._pooled_to_pooled = pairwise_sq_distances(pooled)
        self._fake_in_real_ball = real_to_pooled < real_radii[:, None]  # [real, pooled]

    def precision(self, indices) -> float:
        return float(self._fake_in_real_ball[:, indices].any(axis=0).mean())

    def coverage(self, indices) -> float:
        return float(self._fake_in_real_ball[:, indices].any(axis=1).mean())

    def recall(self, indices) -> float:
        indices = np.asarray(indices)
        fake_radii = np.sort(self._pooled_to_pooled[np.ix_(indices, indices)], axis=1)[:, self.k]
        return float((self._real_to_pooled[:, indices] < fake_radii[None, :]).any(axis=1).mean())
