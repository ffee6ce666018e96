"""Within-batch nearest-neighbour distances: the statistic that sees a partial mode collapse.

A partial collapse sends a few percent of the seeds to (nearly) the same image. FID barely
moves (8 collapsed images of 256 shift it by about one seed-noise SD), recall and coverage do
not move at all (the collapsed images still lie inside the real manifold), and no permutation
test can see it at N = 256 either: only the 8 affected pairs are informative, so a re-assignment
p-value cannot fall below 2^-8 ≈ 0.004. What does move, by a lot, is the distance from each
collapsed image to its nearest other generated image: it drops from the typical spacing of the
batch to the width of the collapsed cluster.

``log_nn_distance`` is the mean over generated samples of log(distance to the nearest other
sample in the same set), in log feature units; higher means more spread out. It is the data
term of the Kozachenko–Leonenko nearest-neighbour entropy estimator (H ≈ d · mean log ρ_i +
constants), so it is a diversity measure with a known lineage, read here without the
ambient-dimension factor that makes the absolute entropy meaningless for features on a
low-dimensional manifold. It depends on N (distances shrink as N grows) and on the extractor,
so compare it only at one N with one extractor, as the drift gate does. A uniform loss of
diversity (every latent × 0.95) lowers it by log(1/0.95) for every sample; a collapse of k
samples into a cluster of width w lowers it by about (k/N) · log(spacing / w). A distance of 0
(two rows equal after float16 rounding) would be log 0, so distances are floored at
``FLOOR_FRACTION`` of the set's median nearest-neighbour distance: one exact duplicate then
counts as log(1000) ≈ 6.9 below the median, not as minus infinity.

``near_duplicates`` counts, for the message, the samples whose nearest neighbour is closer than
``DUPLICATE_RATIO`` of that median: the images a person would look at first.
"""

from __future__ import annotations

import numpy as np

from .validation import as_features
from .prdc import _kth_neighbour_sq_radii as kth_neighbour_sq_radii
from .resampling import pairwise_sq_distances

FLOOR_FRACTION = 1e-3  # distances floored at this fraction of the median NN distance (log 0 otherwise)
DUPLICATE_RATIO = 0.5  # "near-duplicate": nearest neighbour closer than half the median NN distance


def nearest_neighbour_distances(features, *, name: str = "features") -> np.ndarray:
    """Euclidean distance from each row to its nearest *other* row [N], float64.

    precision/recall's k-NN radius with k = 1 (``prdc``: float32 screening, the deciding pairs
    recomputed in float64, strips of rows), so an N x N matrix is never held.
    """
    rows = as_features(features, name, min_rows=2, why="a nearest neighbour needs another sample")
    return np.sqrt(kth_neighbour_sq_radii(rows, 1))


def mean_log_distance(nearest: np.ndarray) -> float:
    """``log_nn_distance`` from already computed nearest-neighbour distances [N]."""
    floor = FLOOR_FRACTION * float(np.median(nearest))
    if floor <= 0.0:  # more than half the rows have an exact twin: every distance is "collapsed"
        floor = np.finfo(np.float64).tiny
    return float(np.mean(np.log(np.maximum(nearest, floor))))


def log_nn_distance(features) -> float:
    """Mean log distance from each row of ``features`` [N, d] (N >= 2) to its nearest other row.

    Log feature units; higher is more diverse. Comparable only at one N and one extractor.
    """
    return mean_log_distance(nearest_neighbour_distances(features))


def near_duplicates(features, *, ratio: float = DUPLICATE_RATIO) -> int:
    """How many rows have a nearest other row closer than ``ratio`` x the median NN distance."""
    return count_near_duplicates(nearest_neighbour_distances(features), ratio=ratio)


def count_near_duplicates(nearest: np.ndarray, *, ratio: float = DUPLICATE_RATIO) -> int:
    """``near_duplicates`` from already computed nearest-neighbour distances [N]."""
    if not (isinstance(ratio, (int, float)) and 0.0 < ratio <= 1.0):
        raise ValueError(f"ratio: expected a number in (0, 1], got {ratio!r}")
    return int(np.sum(nearest < ratio * np.median(nearest)))


class NearestNeighbourSubsets:
    """``log_nn_distance`` of many row subsets of one pooled set: the pairwise distances once,
    then each subset's nearest neighbours from its own block (for ``stats.seed_noise_sd``)."""

    def __init__(self, pooled):
        self._squared = pairwise_sq_distances(np.asarray(pooled, dtype=np.float64))
        np.fill_diagonal(self._squared, np.inf)

    def log_nn_distance(self, indices) -> float:
        indices = np.asarray(indices)
        if indices.shape[0] < 2:
            raise ValueError(f"indices: need at least 2 rows, got {indices.shape[0]}")
        nearest = np.sqrt(self._squared[np.ix_(indices, indices)].min(axis=1))
        return mean_log_distance(nearest)
