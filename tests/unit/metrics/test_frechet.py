"""Frechet distance: closed forms, the scipy-sqrtm formula, low-rank = full, identity, symmetry."""

from dataclasses import replace

import numpy as np
import pytest
import scipy.linalg
import torch

from pytest_genquality.metrics import fid, frechet_distance, frechet_distance_to_samples
from pytest_genquality.metrics.fid import ExtractorMismatchError
from pytest_genquality.metrics.frechet import FrechetSubsets
from pytest_genquality import ImageBatch
from pytest_genquality.reference import ReferenceStats


def scipy_reference(mu1, sigma1, mu2, sigma2):
    """The textbook formula with scipy's sqrtm (what pytorch-fid computes), for comparison only."""
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def well_conditioned(dim, seed):
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    return factor @ factor.T + 0.5 * np.eye(dim), rng.normal(size=dim)


def test_closed_form_diagonal_gaussians():
    # For diagonal covariances: |mu1-mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2
    a = np.array([1.0, 4.0, 9.0])
    b = np.array([4.0, 1.0, 16.0])
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 2.0])
    expected = 9.0 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_closed_form_commuting_scaled_covariance():
    sigma, mu = well_conditioned(16, 1)
    # N(mu, S) vs N(mu, 4S): Tr S + 4 Tr S - 2 Tr(2S) = Tr S
    assert frechet_distance(mu, sigma, mu, 4 * sigma) == pytest.approx(np.trace(sigma), rel=1e-10)


@pytest.mark.parametrize("dim", [64, 2048])
def test_agrees_with_scipy_sqrtm_formula(dim):
    sigma1, mu1 = well_conditioned(dim, 2)
    sigma2, mu2 = well_conditioned(dim, 3)
    ours = frechet_distance(mu1, sigma1, mu2, sigma2)
    assert ours == pytest.approx(scipy_reference(mu1, sigma1, mu2, sigma2), rel=1e-6)


def test_identity_and_symmetry():
    sigma1, mu1 = well_conditioned(32, 4)
    sigma2, mu2 = well_conditioned(32, 5)
    assert frechet_distance(mu1, sigma1, mu1, sigma1) == pytest.approx(0.0, abs=1e-10)  # round-off only
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(
        frechet_distance(mu2, sigma2, mu1, sigma1), rel=1e-10
    )


@pytest.mark.parametrize("count", [5, 40, 63])
def test_low_rank_path_equals_full_path(count):
    rng = np.random.default_rng(count)
    sigma, mu = well_conditioned(64, 6)
    rows = rng.normal(size=(count, 64)) * 1.3 + 0.2
    full = frechet_distance(mu, sigma, rows.mean(0), np.cov(rows, rowvar=False))
    # The d x d path takes square roots of ~d-N round-off eigenvalues (sqrt(1e-15) ~ 3e-8 each);
    # the N x N path never sees them, so the two agree to ~1e-8, not to machine precision.
    assert frechet_distance_to_samples(mu, sigma, rows) == pytest.approx(full, rel=1e-7)


def test_subsets_helper_matches_direct_computation():
    rng = np.random.default_rng(7)
    sigma, mu = well_conditioned(48, 8)
    pooled = rng.normal(size=(60, 48))
    subsets = FrechetSubsets(mu, sigma, pooled)
    # Two algebraic routes to the same number: they agree to ~1e-9 relative, the exact figure
    # depending on the BLAS kernels (1.0e-9 with a generic OpenBLAS, below 1e-10 with Haswell's).
    for indices in (np.arange(30), rng.permutation(60)[:25]):
        assert subsets.distance(indices) == pytest.approx(
            frechet_distance_to_samples(mu, sigma, pooled[indices]), rel=1e-8
        )


def test_float32_eigenvalues_for_the_noise_estimate_agree_and_bad_choices_are_named():
    """The seed-noise estimate's subsets may use float32 eigenvalues (its own error is ~9 %): the
    centred block's zero eigenvalue rounds to ~1e-7 of the largest, and its root moves a small FID
    by ~1e-5 relative."""
    rng = np.random.default_rng(11)
    sigma, mu = well_conditioned(48, 12)
    pooled = rng.normal(size=(60, 48)) + 0.5
    exact, rounded = FrechetSubsets(mu, sigma, pooled), FrechetSubsets(mu, sigma, pooled, eigenvalues="float32")
    for indices in (np.arange(30), rng.permutation(60)[:25]):
        assert rounded.distance(indices) == pytest.approx(exact.distance(indices), rel=1e-4)
    with pytest.raises(ValueError, match="eigenvalues: expected 'float64' or 'float32'"):
        FrechetSubsets(mu, sigma, pooled, eigenvalues="half")


def test_fid_evidence_estimates_noise_with_the_float32_statistic(monkeypatch):
    import pytest_genquality.checks.assertions as assertions_module
    from pytest_genquality.checks.workflow import SPECS, baseline_noise_sd

    seen = {}
    monkeypatch.setattr(assertions_module, "_distribution_check", lambda *args, **kwargs: seen.update(kwargs))
    rows = np.random.default_rng(12).normal(size=(40, 8))
    reference = ReferenceStats.from_features(np.random.default_rng(13).normal(size=(200, 8)), extractor_id="x")
    assertions_module.assert_fid_below(
        ImageBatch(torch.zeros(40, 3, 8, 8, dtype=torch.uint8) + torch.arange(40).view(40, 1, 1, 1)),
        reference,
        100.0,
        extractor=_FixedFeatures(rows),
    )
    noise_statistic = seen["make_noise_statistic"](rows)
    assert noise_statistic.__self__._eigenvalues == "float32"
    evidence = assertions_module.DriftEvidence(
        rows,
        make_statistic=lambda pooled: FrechetSubsets(reference.mu, reference.sigma, pooled).distance,
        make_noise_statistic=seen["make_noise_statistic"],
    )
    assert baseline_noise_sd(SPECS["fid"], evidence, rows) == pytest.approx(
        baseline_noise_sd(SPECS["fid"], replace(evidence, make_noise_statistic=None), rows), rel=1e-2
    )


class _FixedFeatures:
    id = "x"

    def __init__(self, rows):
        self.rows = rows

    def __call__(self, images):
        return {"pool": torch.as_tensor(self.rows[: len(images)], dtype=torch.float32)}


@pytest.mark.parametrize("given_root", [False, True])
def test_subset_distances_without_the_pooled_gram_agree(monkeypatch, given_root):
    """Past GRAM_MAX_ROWS (the N = 5000 case) subsets are formed from whitened rows: n×n, or d×d when n >= d."""
    import pytest_genquality.metrics.frechet as frechet_module
    from pytest_genquality.metrics.frechet import sqrtm_psd

    monkeypatch.setattr(frechet_module, "GRAM_MAX_ROWS", 50)
    rng = np.random.default_rng(9)
    sigma, mu = well_conditioned(24, 10)
    pooled = rng.normal(size=(80, 24)) + 3.0
    subsets = FrechetSubsets(mu, sigma, pooled, sqrt_sigma_ref=sqrtm_psd(sigma) if given_root else None)
    for indices in (np.arange(40), rng.permutation(80)[:12]):  # d×d (40 >= 24), then n×n
        assert subsets.distance(indices) == pytest.approx(
            frechet_distance_to_samples(mu, sigma, pooled[indices]), rel=1e-8
        )


def test_fid_of_a_sample_with_itself_is_zero():
    rows = np.random.default_rng(0).normal(size=(300, 16))
    stats = ReferenceStats.from_features(rows, extractor_id="x")
    assert fid(stats, rows) == pytest.approx(0.0, abs=1e-9)
    assert fid(rows, rows) == 0.0


def test_fid_prefers_the_low_rank_path_and_agrees():
    rng = np.random.default_rng(1)
    reference = ReferenceStats.from_features(rng.normal(size=(500, 64)), extractor_id="x")
    sample = rng.normal(size=(20, 64)) + 0.1
    expected = frechet_distance(reference.mu, reference.sigma, sample.mean(0), np.cov(sample, rowvar=False))
    assert fid(reference, sample) == pytest.approx(expected, rel=1e-7)  # see the low-rank test above
    assert fid(sample, reference) == pytest.approx(expected, rel=1e-7)


def test_fid_refuses_different_extractors():
    rows = np.random.default_rng(0).normal(size=(50, 8))
    with pytest.raises(ExtractorMismatchError, match="different extractors"):
        fid(ReferenceStats.from_features(rows, extractor_id="a"), ReferenceStats.from_features(rows, extractor_id="b"))


def test_round_off_negative_is_zero_but_material_negative_raises():
    sigma = np.eye(4)
    assert frechet_distance(np.zeros(4), sigma, np.zeros(4), sigma * (1 + 1e-15)) >= 0.0
    not_psd = -np.eye(4)
    with pytest.raises(ArithmeticError, match="materially negative"):
        frechet_distance(np.zeros(4), np.eye(4) * 10, np.zeros(4), not_psd * 100)


@pytest.mark.parametrize(
    "args,match",
    [
        ((np.zeros((2, 2)), np.eye(2), np.zeros(2), np.eye(2)), "mu1: expected a 1-D mean vector"),
        ((np.zeros(2), np.eye(3), np.zeros(2), np.eye(2)), "sigma1: expected a 2x2 covariance"),
        ((np.zeros(2), np.eye(2), np.zeros(3), np.eye(3)), "mu1, mu2: dimensions differ"),
        ((np.array([np.nan, 0]), np.eye(2), np.zeros(2), np.eye(2)), "mu1: contains NaN"),
    ],
)
def test_input_validation(args, match):
    with pytest.raises(ValueError, match=match):
        frechet_distance(*args)


def test_samples_validation():
    with pytest.raises(ValueError, match="need at least 2 samples"):
        frechet_distance_to_samples(np.zeros(3), np.eye(3), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="features: dimension 4 does not match mu1's 3"):
        frechet_distance_to_samples(np.zeros(3), np.eye(3), np.zeros((5, 4)))
