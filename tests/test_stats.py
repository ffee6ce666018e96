"""Streaming moments and the drift tests, on synthetic Gaussian features."""

import numpy as np
import pytest

from pytest_genquality.metrics.frechet import FrechetSubsets, frechet_distance_to_samples
from pytest_genquality.stats import (RunningMoments, bootstrap_mean_difference, bootstrap_mean_interval,
                                     mean_and_covariance, permutation_test)
ALPHA = 0.01  # level of these checks of the plain (no-margin) permutation and bootstrap tests

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


def fid_permutation(reference, baseline, current, seed=0, resamples=199):  # min p = 1/200 < ALPHA
    mu, sigma = reference
    return permutation_test(baseline, current, lambda pooled: FrechetSubsets(mu, sigma, pooled).distance,
                            worse_sign=1, resamples=resamples, seed=seed)


def test_permutation_false_alarm_rate_on_seed_only_changes(reference):
    """Baseline and current drawn from one distribution (only the seeds differ): alarms <= nominal level."""
    trials = 120
    alarms = 0
    for trial in range(trials):
        rng = np.random.default_rng(10_000 + trial)
        baseline, current = rng.normal(size=(N, DIM)), rng.normal(size=(N, DIM))
        alarms += fid_permutation(reference, baseline, current, seed=trial).p_value < ALPHA
    # Nominal level 1%: the count stays within a 3-sigma binomial bound of 1% of the trials.
    assert alarms / trials <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / trials)


def test_permutation_catches_a_four_sigma_mean_shift(reference):
    """The generated features' mean moves by 4 standard errors (4/sqrt(N) null sd per dimension): caught."""
    shift = 4 / np.sqrt(N)
    caught = 0
    for trial in range(30):
        rng = np.random.default_rng(20_000 + trial)
        baseline, current = rng.normal(size=(N, DIM)), rng.normal(size=(N, DIM)) + shift
        caught += fid_permutation(reference, baseline, current, seed=trial).p_value < ALPHA
    assert caught / 30 >= 0.95


def test_permutation_power_in_fid_units(reference):
    """Power when the expected FID worsening is k null standard deviations of FID(current) - FID(baseline).

    Measured here (N=64, d=16, ALPHA=0.01): about half the trials at 4 sd and nearly all at 8 sd.
    FID's own sampling variance grows with the shift, so a permutation test cannot reach the power
    a z-test with the null variance would suggest; the README states these figures.
    """
    mu, sigma = reference
    rng = np.random.default_rng(7)
    null_fids = np.array([frechet_distance_to_samples(mu, sigma, rng.normal(size=(N, DIM))) for _ in range(300)])
    null_sd = np.std(null_fids[:150] - null_fids[150:])
    rates = {}
    for k in (4, 8):
        shift = np.sqrt(k * null_sd / DIM)  # each dimension shifted by s adds DIM * s^2 to FID in expectation
        caught = 0
        for trial in range(30):
            rng = np.random.default_rng(40_000 + trial)
            baseline, current = rng.normal(size=(N, DIM)), rng.normal(size=(N, DIM)) + shift
            caught += fid_permutation(reference, baseline, current, seed=trial).p_value < ALPHA
        rates[k] = caught / 30
    assert rates[4] >= 0.3 and rates[8] >= 0.9 and rates[8] > rates[4]


def test_naive_bootstrap_of_fid_would_be_badly_biased_and_is_not_used(reference):
    """Resampling rows with replacement duplicates them and inflates FID far beyond seed noise.

    This is why drift uses a permutation test: the permutation null is centred on zero.
    """
    mu, sigma = reference
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(N, DIM))
    seed_noise = np.std([frechet_distance_to_samples(mu, sigma, rng.normal(size=(N, DIM))) for _ in range(100)])
    original = frechet_distance_to_samples(mu, sigma, rows)
    resampled = [frechet_distance_to_samples(mu, sigma, rows[rng.integers(0, N, N)]) for _ in range(100)]
    inflation = np.mean(resampled) - original
    assert inflation > 2 * seed_noise, "the trap: duplicates inflate FID by more than the noise"
    null = fid_permutation(reference, rows, rows.copy())
    assert null.observed == 0.0 and null.p_value > 0.3  # permutation: identical sets are 'no change'


def test_permutation_is_seeded_and_validates():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    mean_statistic = lambda pooled: (lambda idx: float(pooled[idx].mean()))  # noqa: E731
    first = permutation_test(a, b, mean_statistic, worse_sign=1, seed=5)
    assert first == permutation_test(a, b, mean_statistic, worse_sign=1, seed=5)
    assert 0 < first.p_value <= 1 and 0 < first.p_better <= 1
    with pytest.raises(ValueError, match="worse_sign"):
        permutation_test(a, b, mean_statistic, worse_sign=0)
    with pytest.raises(ValueError, match="one d"):
        permutation_test(a, b[:, :2], mean_statistic, worse_sign=1)


def test_bootstrap_mean_difference_false_alarms_and_power():
    alarms = 0
    for trial in range(100):
        rng = np.random.default_rng(trial)
        baseline, current = rng.normal(30, 2, 64), rng.normal(30, 2, 64)
        alarms += bootstrap_mean_difference(baseline, current, worse_sign=-1, seed=trial, resamples=500).p_value < ALPHA
    assert alarms <= 4
    rng = np.random.default_rng(99)
    baseline = rng.normal(30, 2, 64)
    paired = baseline - 1.5 + rng.normal(0, 0.3, 64)
    assert bootstrap_mean_difference(baseline, paired, worse_sign=-1, paired=True).p_value < ALPHA
    with pytest.raises(ValueError, match="paired"):
        bootstrap_mean_difference(baseline, baseline[:10], worse_sign=-1, paired=True)


def test_bootstrap_interval_contains_the_mean():
    values = np.random.default_rng(1).normal(5, 1, 200)
    low, high = bootstrap_mean_interval(values)
    assert low < values.mean() < high and high - low < 0.5
    with pytest.raises(ValueError, match="need >= 2"):
        bootstrap_mean_interval([1.0])
