"""Streaming moments and the drift tests, on synthetic Gaussian features."""

import numpy as np
import pytest

from pytest_genquality.metrics.frechet import frechet_distance_to_samples
from pytest_genquality.stats import RunningMoments, bootstrap_mean_interval, mean_and_covariance

DIM = 16
N = 64


def test_running_moments_equal_numpy_over_uneven_batches():
    rows = np.random.default_rng(0).normal(size=(1001, 7)) * 3 + 100  # large offset: a naive sum would lose digits
    moments = RunningMoments(7)
    for start, stop in [(0, 1), (1, 300), (300, 301), (301, 1001)]:
        moments.update(rows[start:stop])
    assert np.allclose(moments.mean, rows.mean(0), rtol=1e-12)
    assert np.allclose(moments.covariance, np.cov(rows, rowvar=False), rtol=1e-10)
    mean, covariance = mean_and_covariance(rows)
    assert np.allclose(covariance, np.cov(rows, rowvar=False), rtol=1e-10)


def test_running_moments_validation():
    with pytest.raises(ValueError, match="rows: expected shape \\[n, 3\\]"):
        RunningMoments(3).update(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        RunningMoments(2).update(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="at least 2 samples"):
        RunningMoments(2).covariance


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(123)
    rows = rng.normal(size=(2000, DIM))
    return rows.mean(0), np.cov(rows, rowvar=False)


def test_naive_bootstrap_of_fid_would_be_badly_biased_and_is_not_used(reference):
    """Resampling rows with replacement duplicates them and inflates FID far beyond seed noise.

    This is why the drift gate re-assigns rows between baseline and current instead.
    """
    mu, sigma = reference
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(N, DIM))
    seed_noise = np.std([frechet_distance_to_samples(mu, sigma, rng.normal(size=(N, DIM))) for _ in range(100)])
    original = frechet_distance_to_samples(mu, sigma, rows)
    resampled = [frechet_distance_to_samples(mu, sigma, rows[rng.integers(0, N, N)]) for _ in range(100)]
    inflation = np.mean(resampled) - original
    assert inflation > 2 * seed_noise, "the trap: duplicates inflate FID by more than the noise"


def test_bootstrap_interval_contains_the_mean():
    values = np.random.default_rng(1).normal(5, 1, 200)
    low, high = bootstrap_mean_interval(values)
    assert low < values.mean() < high and high - low < 0.5
    with pytest.raises(ValueError, match="need >= 2"):
        bootstrap_mean_interval([1.0])
