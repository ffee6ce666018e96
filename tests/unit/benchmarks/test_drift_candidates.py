"""Per-image realism scores and the paired margin z: closed forms, brute force, simulated level."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import cdist

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from drift_candidates import (
    FidInfluence,
    GaussianReference,
    classifier_entropy,
    classifier_nll,
    knn_distance,
    mahalanobis_sq,
    margin_z,
    normal_tail,
    outside_reference_manifold,
    reference_radii,
    standardised_margin,
)


@pytest.fixture
def rows():
    rng = np.random.default_rng(0)
    return rng.standard_normal((50, 6)), rng.standard_normal((80, 6))


def test_knn_distance_matches_brute_force(rows):
    current, reference = rows
    expected = np.sort(cdist(current, reference), axis=1)[:, 4]
    np.testing.assert_allclose(knn_distance(current, reference, k=5, chunk=7), expected, rtol=1e-9)


def test_outside_manifold_is_one_minus_precision_by_brute_force(rows):
    current, reference = rows
    within = cdist(reference, reference)
    np.fill_diagonal(within, np.inf)
    radii = np.sort(within, axis=1)[:, 2]
    np.testing.assert_allclose(reference_radii(reference, k=3), radii, rtol=1e-9)
    expected = ~(cdist(current, reference) < radii[None, :]).any(axis=1)
    np.testing.assert_array_equal(outside_reference_manifold(current, reference, k=3), expected.astype(float))
    assert outside_reference_manifold(reference, reference, k=3).sum() == 0  # every reference row is in its own ball


def test_mahalanobis_matches_the_inverse_and_has_mean_d_under_the_reference():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 4))
    sigma, mu = a @ a.T + np.eye(4), rng.standard_normal(4)
    x = rng.standard_normal((10, 4))
    expected = np.einsum("ni,ij,nj->n", x - mu, np.linalg.inv(sigma), x - mu)
    np.testing.assert_allclose(mahalanobis_sq(x, mu, sigma, floor=0.0), expected, rtol=1e-9)
    samples = rng.multivariate_normal(mu, sigma, size=20000)
    assert GaussianReference(mu, sigma, floor=0.0).mahalanobis_sq(samples).mean() == pytest.approx(4.0, rel=0.03)


def test_mahalanobis_floor_keeps_a_singular_sigma_finite():
    sigma = np.diag([1.0, 1.0, 0.0])
    values = mahalanobis_sq(np.array([[0.0, 0.0, 1.0]]), np.zeros(3), sigma)
    assert np.isfinite(values).all() and values[0] == pytest.approx(1 / (1e-3 * 2 / 3))


def test_classifier_scores_closed_forms():
    uniform = np.zeros((1, 10))
    assert classifier_nll(uniform)[0] == pytest.approx(math.log(10))
    assert classifier_entropy(uniform)[0] == pytest.approx(math.log(10))
    sure = np.array([[100.0] + [0.0] * 9])
    assert classifier_nll(sure)[0] == pytest.approx(0.0, abs=1e-12)
    assert classifier_entropy(sure)[0] == pytest.approx(0.0, abs=1e-12)
    logits = np.array([[1.0, 2.0, 0.5]])
    p = np.exp(logits) / np.exp(logits).sum()
    assert classifier_nll(logits)[0] == pytest.approx(-math.log(p.max()))
    assert classifier_entropy(logits + 1000)[0] == pytest.approx(-(p * np.log(p)).sum())  # shift-invariant, no overflow


def test_margin_z_paired_is_the_one_sample_t_statistic():
    rng = np.random.default_rng(2)
    baseline = rng.standard_normal(300)
    current = baseline + 0.2 + 0.5 * rng.standard_normal(300)
    z, worsening, se = margin_z(baseline, current, margin=0.1, paired=True)
    t = stats.ttest_1samp(current - baseline - 0.1, 0.0).statistic
    assert z == pytest.approx(t) and worsening == pytest.approx((current - baseline).mean())
    welch = stats.ttest_ind(current - 0.1, baseline, equal_var=False).statistic
    assert margin_z(baseline, current, margin=0.1, paired=False)[0] == pytest.approx(welch)


def test_identical_scores_are_inside_any_positive_margin():
    scores = np.arange(10.0)
    assert margin_z(scores, scores, margin=0.01, paired=True)[0] == -math.inf
    assert normal_tail(-math.inf) == 1.0


def test_standardised_margin_and_errors():
    assert standardised_margin(0.5, [0.0, 2.0]) == pytest.approx(0.5 * math.sqrt(2))
    with pytest.raises(ValueError, match="margin"):
        margin_z([1, 2], [1, 2], margin=-1, paired=True)
    with pytest.raises(ValueError, match="paired"):
        margin_z([1, 2, 3], [1, 2], margin=0, paired=True)
    with pytest.raises(ValueError, match="k"):
        knn_distance(np.zeros((2, 3)), np.zeros((2, 3)), k=3)


@pytest.mark.parametrize("paired", [True, False])
def test_simulated_null_level_at_the_margin(paired):
    """Skewed scores whose mean worsening is exactly the margin: P(z >= z_0.01) <= 0.01 (binomial 99.9 % bound)."""
    rng = np.random.default_rng(3)
    checks, n, margin, level = 3000, 200, 0.05, 0.01
    failures = 0
    for _ in range(checks):
        baseline = rng.gamma(2.0, 1.0, n)
        current = (0.6 * baseline + 0.4 * rng.gamma(2.0, 1.0, n)) if paired else rng.gamma(2.0, 1.0, n)
        z, _, _ = margin_z(baseline, current + margin, margin=margin, paired=paired)
        failures += normal_tail(z) < level
    assert failures <= stats.binom.ppf(0.999, checks, level)


def _fid(mu1, sigma1, mu2, sigma2):
    from scipy.linalg import sqrtm

    root = np.real(sqrtm(sigma1))
    return float(
        ((mu1 - mu2) ** 2).sum() + np.trace(sigma1 + sigma2) - 2 * np.trace(np.real(sqrtm(root @ sigma2 @ root)))
    )


def test_fid_influence_mean_is_the_fid_change_to_first_order():
    """E_Q[IF] in closed form for Gaussian Q against FID(Q) - FID(P) by scipy's sqrtm: ratio -> 1 as Q -> P."""
    rng = np.random.default_rng(4)
    d = 5
    a, b, c = (rng.standard_normal((d, d)) for _ in range(3))
    sigma_r, sigma_b = a @ a.T + np.eye(d), b @ b.T + np.eye(d)
    mu_r, mu_b, direction_mu = rng.standard_normal(d), rng.standard_normal(d), rng.standard_normal(d)
    influence = FidInfluence(mu_r, sigma_r, mu_b, sigma_b)
    for step in (1e-2, 1e-3):
        mu_q, sigma_q = mu_b + step * direction_mu, sigma_b + step * (c @ c.T)
        shift = mu_q - mu_b
        expected_if = (
            influence.linear @ shift + np.trace(influence.a @ (sigma_q + np.outer(shift, shift))) - influence.offset
        )
        change = _fid(mu_r, sigma_r, mu_q, sigma_q) - _fid(mu_r, sigma_r, mu_b, sigma_b)
        assert expected_if == pytest.approx(change, rel=20 * step)


def test_fid_influence_has_mean_zero_on_the_baseline_sample():
    rng = np.random.default_rng(5)
    baseline = rng.standard_normal((400, 3)) * [1.0, 2.0, 0.5] + 1.0
    reference = rng.standard_normal((400, 3))
    mu_b, sigma_b = baseline.mean(0), np.cov(baseline, rowvar=False, bias=True)
    scores = FidInfluence(reference.mean(0), np.cov(reference, rowvar=False), mu_b, sigma_b).scores(baseline)
    assert abs(scores.mean()) < 1e-9 * np.abs(scores).max()
