"""Vendi score (Friedman & Dieng 2023, "The Vendi Score: A Diversity Evaluation Metric for Machine Learning").

    VS = exp( -sum_i lambda_i log lambda_i ),   lambda_i the eigenvalues of K / n

with K the n×n similarity matrix of the n samples under a kernel with k(x, x) = 1. It is the
exponential of the Shannon entropy of the eigenvalue spectrum: the *effective number of distinct
samples*. n identical samples give 1, n mutually orthogonal ones give n, and always
1 <= VS <= rank(K) <= min(n, d). Higher is more diverse. It needs no reference set, so it gates
a generator's diversity (mode collapse, prompt-ignoring near-copies) on its own, with any
extractor's features (Inception pool, CLIP, DINOv2).

For the two kernels served here K = X Xᵀ (cosine: X with unit rows; linear: X as given), and the
non-zero eigenvalues of X Xᵀ / n (n×n) equal those of Xᵀ X / n (d×d): X = U S Vᵀ gives both the
spectrum S² / n. The smaller of the two matrices is factorised, so 50 000 Inception rows cost one
2048×2048 ``eigvalsh``, not a 50 000×50 000 one (the ``vendi-score`` package's ``score_dual`` is
the same identity).
"""

from __future__ import annotations

import numpy as np

from .validation import as_features

KERNELS = ("cosine", "linear")
GRAM_BLOCK_ROWS = 4096  # rows per float64 block of XᵀX: bounds the float64 copy at 4096 x d
ZERO_NORM = 1e-12  # a row shorter than this has no direction for the cosine kernel


def vendi_score(features, *, kernel: str = "cosine") -> float:
    """Vendi score of ``features`` [N, D] (any extractor's rows), a float in [1, min(N, D)].

    kernel="cosine" (default, the paper's choice for embeddings and the ``vendi-score`` package's
    ``score_X(..., normalize=True)``): k(x, y) = x·y / (|x| |y|), so k(x, x) = 1 as the definition
    requires. kernel="linear": k(x, y) = x·y on the rows as given; k(x, x) = |x|² is not 1, so the
    eigenvalues are divided by their sum (K / tr K instead of K / n; the same when rows have unit
    norm), which makes them a probability vector again and keeps the score scale-invariant.
    Eigenvalues are taken of the n×n or the d×d Gram, whichever is smaller (same non-zero
    spectrum), in float64; round-off negatives are 0.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
    rows = as_features(features, "features")
    norms = np.sqrt(np.einsum("ij,ij->i", rows, rows, dtype=np.float64))
    if kernel == "cosine":
        short = np.flatnonzero(norms < ZERO_NORM)
        if short.size:
            raise ValueError(
                f"features: row {short[0]} has norm {norms[short[0]]:.3g} ({short.size} such rows); the cosine "
                "kernel needs a direction for every row; drop all-zero rows or use kernel='linear'"
            )
        scale = 1.0 / norms
    else:
        if not norms.any():
            raise ValueError("features: every row is zero; the linear kernel's spectrum is empty")
        scale = np.ones_like(norms)
    gram = _smaller_gram(rows, scale)
    eigenvalues = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    probabilities = eigenvalues / eigenvalues.sum()
    positive = probabilities[probabilities > 0]
    return float(np.exp(-(positive * np.log(positive)).sum()))


def _smaller_gram(rows: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(D X)(D X)ᵀ (n×n) when n <= d, else (D X)ᵀ(D X) (d×d) accumulated over row blocks, float64.

    D = diag(scale). Only the spectrum's shape matters (it is normalised afterwards), so no 1/n.
    """
    count, dim = rows.shape
    if count <= dim:
        scaled = rows.astype(np.float64) * scale[:, None]
        gram = scaled @ scaled.T
    else:
        gram = np.zeros((dim, dim))
        for start in range(0, count, GRAM_BLOCK_ROWS):
            block = (
                rows[start : start + GRAM_BLOCK_ROWS].astype(np.float64) * scale[start : start + GRAM_BLOCK_ROWS, None]
            )
            gram += block.T @ block
    return (gram + gram.T) / 2
