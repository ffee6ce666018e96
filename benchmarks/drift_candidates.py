"""Candidate evidence measured by bench_drift_real.py and NOT shipped: per-image realism scores.

The benchmark compares them with the shipped evidence (``pytest_genquality.stats.swap_z``, the
paired FID difference over its swap-null SD) on the real digits model, where they lost: a
regression such as fewer sampling steps makes images more *typical* under the reference, so
a mean "realism" score moves the wrong way. They stay here so the comparison can be re-run.
The original rationale follows.

    reference (mu, sigma, rows) + features of one image  ->  score (higher = worse)
    baseline scores, current scores (same seeds)         ->  z of "mean worsening > margin"

Why per-image scores: a distribution metric such as FID spends its N images on estimating a
d x d covariance, so its seed-to-seed noise at N = 200 is several FID points, and a change of the
model moves every image a lot (the same seed's image differs by PSNR 16-26 dB on the digits
suite), so pairing by seed barely narrows FID's null. A score per image turns the question into
a mean of N paired differences d_i = score(current_i) - score(baseline_i), whose standard error
falls like 1/sqrt(N) with no covariance to estimate, and whose test is a one-sample z (or t) on
the d_i: exact enough at N >= 100 (CLT), no resampling, cost O(N).

Scores (units in each docstring; all "higher is worse"):

- ``knn_distance``: Euclidean distance from the image's feature to its k-th nearest reference
  feature (k-NN realism, the per-image face of precision; Kynkaenniemi et al. 2019). Needs the
  reference's rows.
- ``mahalanobis_sq``: squared Mahalanobis distance to the reference Gaussian (mu, sigma): minus
  twice the log-density under the Gaussian FID assumes, up to a constant. Needs only the stored
  reference statistics. Sigma is regularised (eigenvalues floored at ``floor`` x the mean
  eigenvalue) because a reference of n < d rows, or a nearly flat spectrum's tail, makes
  Sigma^-1 blow up the directions nobody measured.
- ``classifier_nll``: -log max softmax of the extractor's logits (the domain classifier's
  doubt about the image), and ``classifier_entropy``: the softmax's entropy. For a user whose
  extractor has logits (the digits suite's classifier; Inception has them too).
- ``FidInfluence``: FID's influence function at the baseline, per image: the first-order change
  of FID when the image is added to the baseline's distribution, so that the mean over a
  current set minus the mean over the baseline's set is, to first order, FID(current) -
  FID(baseline) at N = infinity (no 1/N bias) and in FID units: a margin "FID +1.0" applies
  to it directly. Needs the reference (mu, sigma) and the baseline's (mu, sigma), the latter
  stored under --update-refs from the baseline's N_max rows. Unlike the realism scores, it
  sees a loss of diversity (a narrower Sigma), which makes images more typical and so
  *lowers* their distance to the reference.
- ``outside_reference_manifold``: 1.0 when the feature lies outside every reference k-NN ball,
  else 0.0: one minus precision, per image.

The decision statistic, ``margin_z``: H0: E[d] <= margin, H1: E[d] > margin, z = (mean(d) -
margin) / se. ``margin`` is in the score's units; ``standardised_margin`` converts a margin
given in units of the baseline's per-image score SD (what the gate stores under
--update-refs, so one default serves every extractor) into score units.
"""

from __future__ import annotations

import math

import numpy as np

KNN_K = 5  # neighbours behind k-NN realism (prdc's density/coverage default; Naeem et al. 2020)
PRECISION_K = 3  # the reference radius of precision (Kynkaenniemi et al. 2019 use k = 3)
MAHALANOBIS_FLOOR = 1e-3  # eigenvalue floor of sigma, relative to its mean eigenvalue


def _rows(features, name: str) -> np.ndarray:
    rows = np.asarray(features, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[0] < 1:
        raise ValueError(f"{name}: expected feature rows [n, d], got shape {rows.shape}")
    if not np.isfinite(rows).all():
        raise ValueError(f"{name}: features contain NaN or infinite values")
    return rows


def _sq_distances(rows: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances [n, m], float64, clipped at 0 (round-off of the expanded form)."""
    squares = (rows**2).sum(1)[:, None] + (reference**2).sum(1)[None, :] - 2.0 * rows @ reference.T
    return np.maximum(squares, 0.0)


def knn_distance(features, reference_features, *, k: int = KNN_K, chunk: int = 4096) -> np.ndarray:
    """Distance from each row to its k-th nearest reference row: float64 [n], feature units."""
    rows, reference = _rows(features, "features"), _rows(reference_features, "reference_features")
    if rows.shape[1] != reference.shape[1]:
        raise ValueError(f"features, reference_features: dimensions differ ({rows.shape[1]} vs {reference.shape[1]})")
    if not 1 <= k <= reference.shape[0]:
        raise ValueError(f"k: expected 1..{reference.shape[0]} (the reference's rows), got {k}")
    out = np.empty(rows.shape[0])
    for start in range(0, rows.shape[0], chunk):
        squares = _sq_distances(rows[start : start + chunk], reference)
        out[start : start + chunk] = np.sqrt(np.partition(squares, k - 1, axis=1)[:, k - 1])
    return out


def reference_radii(reference_features, *, k: int = PRECISION_K) -> np.ndarray:
    """Each reference row's distance to its k-th nearest other reference row: float64 [m]."""
    reference = _rows(reference_features, "reference_features")
    if not 1 <= k < reference.shape[0]:
        raise ValueError(f"k: expected 1..{reference.shape[0] - 1}, got {k}")
    squares = _sq_distances(reference, reference)
    np.fill_diagonal(squares, np.inf)
    return np.sqrt(np.partition(squares, k - 1, axis=1)[:, k - 1])


def outside_reference_manifold(
    features, reference_features, *, k: int = PRECISION_K, radii: np.ndarray | None = None
) -> np.ndarray:
    """1.0 where a row lies in no reference row's k-NN ball, else 0.0: float64 [n] (mean = 1 - precision)."""
    rows, reference = _rows(features, "features"), _rows(reference_features, "reference_features")
    radii = reference_radii(reference, k=k) if radii is None else np.asarray(radii, dtype=np.float64)
    inside = (_sq_distances(rows, reference) < radii[None, :] ** 2).any(axis=1)  # strict, as metrics.prdc
    return (~inside).astype(np.float64)


class GaussianReference:
    """The reference Gaussian's inverse square root, built once: ``mahalanobis_sq(rows)`` per image.

    mu [d], sigma [d, d] (the stored reference statistics). The eigenvalues of sigma are floored
    at ``floor`` x their mean before inverting (see the module docstring).
    """

    def __init__(self, mu, sigma, *, floor: float = MAHALANOBIS_FLOOR):
        mu = np.asarray(mu, dtype=np.float64)
        sigma = np.asarray(sigma, dtype=np.float64)
        if mu.ndim != 1 or sigma.shape != (mu.size, mu.size):
            raise ValueError(f"mu, sigma: expected [d] and [d, d], got {mu.shape} and {sigma.shape}")
        eigenvalues, vectors = np.linalg.eigh((sigma + sigma.T) / 2)
        if eigenvalues.max() <= 0:
            raise ValueError("sigma: has no positive eigenvalue")
        eigenvalues = np.maximum(eigenvalues, floor * eigenvalues.mean())
        self.mu = mu
        self.whitening = vectors / np.sqrt(eigenvalues)[None, :]  # rows @ whitening has identity covariance

    def mahalanobis_sq(self, features) -> np.ndarray:
        """(x - mu)^T sigma^-1 (x - mu) per row: float64 [n], dimensionless (mean ~ d for reference rows)."""
        rows = _rows(features, "features")
        if rows.shape[1] != self.mu.size:
            raise ValueError(f"features: expected {self.mu.size} columns, got {rows.shape[1]}")
        return (((rows - self.mu) @ self.whitening) ** 2).sum(1)


def mahalanobis_sq(features, mu, sigma, *, floor: float = MAHALANOBIS_FLOOR) -> np.ndarray:
    """Squared Mahalanobis distance of each row to N(mu, sigma): float64 [n]."""
    return GaussianReference(mu, sigma, floor=floor).mahalanobis_sq(features)


def _psd_power(matrix: np.ndarray, power: float, floor: float) -> np.ndarray:
    eigenvalues, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    eigenvalues = np.maximum(eigenvalues, floor * max(eigenvalues.max(), 0.0) + 1e-300)
    return (vectors * eigenvalues**power) @ vectors.T


class FidInfluence:
    """Per-image linearised FID: ``scores(rows)`` has mean 0 on the baseline's distribution, FID units.

    FID(P) = |mu_P - mu_r|^2 + Tr(Sigma_P) + Tr(Sigma_r) - 2 Tr((S Sigma_P S)^1/2), S = Sigma_r^1/2.
    Its derivative at the baseline P = (mu_b, Sigma_b) is dFID = 2 (mu_b - mu_r)^T dmu + Tr(A dSigma)
    with A = I - S (S Sigma_b S)^-1/2 S; contaminating P with an image x (dmu = x - mu_b, dSigma =
    (x - mu_b)(x - mu_b)^T - Sigma_b) gives the influence
        IF(x) = 2 (mu_b - mu_r)^T (x - mu_b) + (x - mu_b)^T A (x - mu_b) - Tr(A Sigma_b),
    whose mean over a distribution Q is FID(Q) - FID(P) up to second-order terms (Hampel 1974;
    the delta method of the FID). ``floor``: eigenvalues of S Sigma_b S below floor x the largest
    are raised to it before the inverse root (a baseline of n < d rows is singular).
    """

    def __init__(self, mu_ref, sigma_ref, mu_baseline, sigma_baseline, *, floor: float = 1e-8):
        mu_ref, mu_baseline = (np.asarray(v, dtype=np.float64) for v in (mu_ref, mu_baseline))
        sigma_ref, sigma_baseline = (np.asarray(m, dtype=np.float64) for m in (sigma_ref, sigma_baseline))
        d = mu_ref.size
        if mu_baseline.shape != (d,) or sigma_ref.shape != (d, d) or sigma_baseline.shape != (d, d):
            raise ValueError(
                f"mu/sigma: expected [d] and [d, d] of one d = {d}, got {mu_baseline.shape}, "
                f"{sigma_ref.shape}, {sigma_baseline.shape}"
            )
        root = _psd_power(sigma_ref, 0.5, 0.0)
        self.a = np.eye(d) - root @ _psd_power(root @ sigma_baseline @ root, -0.5, floor) @ root
        self.a = (self.a + self.a.T) / 2
        self.mu_baseline = mu_baseline
        self.linear = 2.0 * (mu_baseline - mu_ref)
        self.offset = float(np.trace(self.a @ sigma_baseline))

    def scores(self, features) -> np.ndarray:
        """IF(x) per row: float64 [n], FID units."""
        rows = _rows(features, "features")
        if rows.shape[1] != self.mu_baseline.size:
            raise ValueError(f"features: expected {self.mu_baseline.size} columns, got {rows.shape[1]}")
        centred = rows - self.mu_baseline
        return centred @ self.linear + np.einsum("ni,ij,nj->n", centred, self.a, centred) - self.offset


def _log_softmax(logits) -> np.ndarray:
    logits = _rows(logits, "logits")
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def classifier_nll(logits) -> np.ndarray:
    """-log of the largest softmax probability per row: float64 [n], nats in [0, log C]."""
    return -_log_softmax(logits).max(axis=1)


def classifier_entropy(logits) -> np.ndarray:
    """Entropy of the softmax per row: float64 [n], nats in [0, log C]."""
    log_p = _log_softmax(logits)
    return -(np.exp(log_p) * log_p).sum(axis=1)


def standardised_margin(margin_sds: float, baseline_scores) -> float:
    """A margin given in baseline per-image score SDs, in the score's units (margin_sds x SD)."""
    scores = np.asarray(baseline_scores, dtype=np.float64).ravel()
    if scores.size < 2:
        raise ValueError(f"baseline_scores: need >= 2 scores, got {scores.size}")
    if not (math.isfinite(margin_sds) and margin_sds >= 0):
        raise ValueError(f"margin_sds: expected a finite number >= 0, got {margin_sds!r}")
    return float(margin_sds * scores.std(ddof=1))


def margin_z(baseline_scores, current_scores, *, margin: float, paired: bool) -> tuple[float, float, float]:
    """(z, mean worsening, standard error) of H0 "mean(current) - mean(baseline) <= margin".

    Scores are "higher is worse", in one unit; ``margin`` in that unit. ``paired=True``: row i
    of both comes from seed i, z = (mean(d) - margin) / (sd(d) / sqrt(n)) with d = current -
    baseline. ``paired=False`` (other seeds): Welch's standard error of the difference of means.
    Identical scores (se = 0) give z = -inf when the margin is positive (nothing changed).
    """
    baseline = np.asarray(baseline_scores, dtype=np.float64).ravel()
    current = np.asarray(current_scores, dtype=np.float64).ravel()
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin: expected a finite number >= 0 in the score's units, got {margin!r}")
    if baseline.size < 2 or current.size < 2:
        raise ValueError(f"scores: need >= 2 per side, got {baseline.size} and {current.size}")
    if paired:
        if baseline.size != current.size:
            raise ValueError(f"paired scores: expected equal lengths, got {baseline.size} and {current.size}")
        differences = current - baseline
        worsening = float(differences.mean())
        se = float(differences.std(ddof=1) / math.sqrt(differences.size))
    else:
        worsening = float(current.mean() - baseline.mean())
        se = float(math.sqrt(current.var(ddof=1) / current.size + baseline.var(ddof=1) / baseline.size))
    if se == 0.0:
        excess = worsening - margin
        return (math.inf if excess > 0 else -math.inf if excess < 0 else 0.0), worsening, 0.0
    return (worsening - margin) / se, worsening, se


def normal_tail(z: float) -> float:
    """P(N(0, 1) >= z): the one-sided p-value of ``margin_z``'s z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))
