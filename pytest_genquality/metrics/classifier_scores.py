"""Inception Score (Salimans et al. 2016), computed as torch-fidelity computes it.

IS = exp(E_x KL(p(y|x) || p(y))): high when each image is confidently one class (sharp
p(y|x)) and the classes are diverse (flat marginal p(y)). Higher is better; the range is
[1, number of classes]. It ignores real data entirely, so it says nothing about fidelity to a
reference set; pair it with FID or precision/recall.

The input is the 1008 ``logits_unbiased`` of the FID Inception (the fc layer without its bias),
which is what torch-fidelity feeds to its ``isc_features_to_metric``; the samples are shuffled
with ``numpy.random.RandomState(seed).permutation`` (seed 2020, torch-fidelity's default) and cut
into ``splits`` contiguous chunks at ``i * N // splits``, so numbers match torch-fidelity's.

Every term is taken from log-probabilities (log-softmax, and the log of the chunk's marginal
by log-sum-exp), never from the log of a probability: with logits spanning more than ~745
(float64's exp underflow; random-weight networks on noise images reach 1600) a class
probability is exactly 0, its log is -inf, and torch-fidelity's ``p * (log p - log q)``
becomes 0 * inf = NaN. Here such a term is 0, its limit, so IS is finite whenever the logits are.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, logsumexp

from .validation import as_features, check_int

IS_SPLITS = 10  # Salimans et al. 2016, torch-fidelity default
IS_SEED = 2020  # torch-fidelity's rng_seed default


def inception_score(logits, *, splits: int = IS_SPLITS, seed: int = IS_SEED) -> tuple[float, float]:
    """Mean and population std of the Inception Score over ``splits`` chunks.

    logits: [N, C] unnormalised class scores (numpy or torch), N >= splits so that no chunk is
    empty. Softmax is taken in float64; the result is finite for any finite logits.
    """
    splits = check_int(splits, "splits", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    scores_in = as_features(
        logits, "logits", min_rows=splits, why=f"each of the splits={splits} chunks needs at least one sample"
    )
    if scores_in.shape[1] < 2:
        raise ValueError(f"logits: got {scores_in.shape[1]} class column; expected at least 2 classes")

    count = len(scores_in)
    order = np.random.RandomState(seed).permutation(count)
    log_p = log_softmax(scores_in[order].astype(np.float64), axis=1)
    p = np.exp(log_p)

    chunk_scores = []
    for i in range(splits):
        start, stop = i * count // splits, (i + 1) * count // splits
        chunk_scores.append(_chunk_score(p[start:stop], log_p[start:stop]))
    return float(np.mean(chunk_scores)), float(np.std(chunk_scores))


def _chunk_score(p: np.ndarray, log_p: np.ndarray) -> float:
    """exp of the mean KL divergence between each p(y|x) and the chunk's marginal p(y).

    log p(y) = logsumexp_x log p(y|x) - log n: finite even where every p(y|x) underflowed.
    A term with p(y|x) = 0 contributes 0 (the limit of p log p), not 0 * inf.
    """
    log_marginal = logsumexp(log_p, axis=0, keepdims=True) - np.log(len(log_p))
    with np.errstate(invalid="ignore"):
        terms = np.where(p > 0, p * (log_p - log_marginal), 0.0)
    return float(np.exp(terms.sum(axis=1).mean()))
