"""FD∞: closer to the true Frechet distance than FID_N on Gaussians, the paper's fit, the default sizes, validation."""

import numpy as np
import pytest

from pytest_genquality.metrics import fd_infinity, frechet_distance
from pytest_genquality.metrics.fd_infinity import default_subset_sizes
from pytest_genquality.metrics.frechet import sqrtm_psd


def gaussians(d, seed=0):
    """Reference N(0, Sr) and generator N(0, Sg): the true distance is their closed-form Frechet distance."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(d, d)) / np.sqrt(d), rng.normal(size=(d, d)) / np.sqrt(d)
    return np.zeros(d), a @ a.T + 0.5 * np.eye(d), b @ b.T + 0.3 * np.eye(d)


def pytorch_fid_formula(mu1, sigma1, mu2, sigma2):
    """pytorch-fid's calculate_frechet_distance (scipy sqrtm of the product), written out independently."""
    from scipy import linalg

    covmean = linalg.sqrtm(sigma1 @ sigma2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def test_fd_infinity_removes_the_bias_of_fid_at_n():
    """FID_N overestimates the Gaussians' distance by ~slope/N; the intercept of the fit does not."""
    d, count = 64, 2000
    mu, sigma_ref, sigma_gen = gaussians(d)
    true = frechet_distance(mu, sigma_ref, mu, sigma_gen)
    errors_infinity, errors_at_n = [], []
    for replicate in range(6):
        features = np.random.default_rng(100 + replicate).multivariate_normal(mu, sigma_gen, size=count)
        fit = fd_infinity(features, mu, sigma_ref, seed=replicate)
        fid_at_n = frechet_distance(mu, sigma_ref, features.mean(0), np.cov(features, rowvar=False))
        assert fit.fids[-1] == pytest.approx(fid_at_n, rel=1e-9)  # the largest subset is all N rows
        assert fit.slope > 0
        errors_infinity.append(fit.fd_infinity - true)
        errors_at_n.append(fid_at_n - true)
    errors_infinity, errors_at_n = np.array(errors_infinity), np.array(errors_at_n)
    assert (errors_at_n > 0.3).all()  # FID at 2 000 rows is visibly biased (mean +0.64 on 21.3)
    assert (np.abs(errors_infinity) < np.abs(errors_at_n)).all()
    assert abs(errors_infinity.mean()) < 0.25 * errors_at_n.mean()


def test_matches_the_papers_fit_written_out():
    """Same subsets (fresh permutation per size from one default_rng), scipy-sqrtm FID, lstsq on [1, 1/N]."""
    d, count, seed = 16, 600, 3
    mu, sigma_ref, sigma_gen = gaussians(d, seed=1)
    features = np.random.default_rng(7).multivariate_normal(mu + 0.2, sigma_gen, size=count).astype(np.float32)
    sizes = np.linspace(60, count, 15).astype(np.int32)
    rng = np.random.default_rng(seed)
    fids = []
    for size in sizes:
        subset = features[rng.permutation(count)[:size]].astype(np.float64)
        fids.append(pytorch_fid_formula(mu, sigma_ref, subset.mean(0), np.cov(subset, rowvar=False)))
    (intercept, slope), *_ = np.linalg.lstsq(
        np.stack([np.ones(len(sizes)), 1.0 / sizes], 1), np.array(fids), rcond=None
    )

    fit = fd_infinity(features, mu, sigma_ref, seed=seed)
    assert fit.subset_sizes == tuple(int(size) for size in sizes)
    assert np.array(fit.fids) == pytest.approx(np.array(fids), rel=1e-7)
    assert fit.fd_infinity == pytest.approx(intercept, rel=1e-7)
    assert fit.slope == pytest.approx(slope, rel=1e-7)
    assert float(fit) == fit.fd_infinity and fit.predicted(count) == pytest.approx(intercept + slope / count)


def test_low_rank_subsets_and_seeds():
    """Subsets smaller than D take the N×N path; the seed changes the subsets, not the full-set point."""
    d = 48
    mu, sigma_ref, sigma_gen = gaussians(d, seed=2)
    features = np.random.default_rng(0).multivariate_normal(mu, sigma_gen, size=200)
    first, again, other = (fd_infinity(features, mu, sigma_ref, seed=s) for s in (0, 0, 1))
    assert first == again
    assert first.fids[-1] == pytest.approx(other.fids[-1], rel=1e-9) and first.fids[0] != other.fids[0]
    direct = frechet_distance(mu, sigma_ref, features.mean(0), np.cov(features, rowvar=False))
    assert first.fids[-1] == pytest.approx(direct, rel=1e-9)
    root = sqrtm_psd(sigma_ref)  # as ReferenceStats.sqrt_sigma holds it
    assert fd_infinity(features, mu, sigma_ref, sqrt_sigma_ref=root).fd_infinity == pytest.approx(
        first.fd_infinity, rel=1e-9
    )


@pytest.mark.parametrize(
    "count, expected",
    [
        (50_000, tuple(int(n) for n in np.linspace(5000, 50_000, 15).astype(np.int32))),  # the paper's sizes
        (100_000, tuple(int(n) for n in np.linspace(5000, 100_000, 15).astype(np.int32))),
        (2000, tuple(int(n) for n in np.linspace(200, 2000, 15).astype(np.int64))),
    ],
)
def test_default_subset_sizes(count, expected):
    assert default_subset_sizes(count) == expected


def test_default_subset_sizes_of_few_images_are_distinct():
    sizes = default_subset_sizes(25)
    assert sizes[0] == 2 and sizes[-1] == 25 and len(set(sizes)) == len(sizes) >= 2


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((np.zeros((2, 3)), np.zeros(3), np.eye(3)), {}, ValueError, "features: got 2 rows; expected at least 3"),
        ((np.ones((20, 3)), np.zeros(4), np.eye(4)), {}, ValueError, "mu_ref: has 4 dimensions but features have 3"),
        ((np.ones((20, 3)), np.zeros(3), np.eye(2)), {}, ValueError, "sigma_ref: expected a 3x3 covariance"),
        (
            (np.ones((20, 3)), np.zeros(3), np.eye(3)),
            {"subset_sizes": [10, 30]},
            ValueError,
            "subset_sizes: 30 is more than the 20 generated images",
        ),
        (
            (np.ones((20, 3)), np.zeros(3), np.eye(3)),
            {"subset_sizes": [10, 10]},
            ValueError,
            "at least 2 distinct sizes",
        ),
        (
            (np.ones((20, 3)), np.zeros(3), np.eye(3)),
            {"subset_sizes": [1, 10]},
            ValueError,
            "subset_sizes: expected an int >= 2",
        ),
        (
            (np.ones((20, 3)), np.zeros(3), np.eye(3)),
            {"subset_sizes": 10},
            TypeError,
            "subset_sizes: expected a sequence",
        ),
        ((np.ones((20, 3)), np.zeros(3), np.eye(3)), {"seed": -1}, ValueError, "seed: expected an int >= 0"),
        ((np.full((20, 3), np.inf), np.zeros(3), np.eye(3)), {}, ValueError, "features: contains non-finite"),
    ],
)
def test_invalid_inputs_are_named(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fd_infinity(*args, **kwargs)
