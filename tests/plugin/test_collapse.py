"""The collapse statistic (mean log nearest-neighbour distance) and its drift test (issue 10).

Parity: no peer library computes this statistic, so the independent source is a brute-force
nearest neighbour from scipy's ``cdist``. Properties: invariance to rotation and translation,
log c added under scaling by c, a planted cluster lowers it. The gate: the normal margin test
on the stored seed noise, quiet under harmless changes and catching a 3 % collapse that no
permutation test can see (fast seeded checks; the full calibration is
benchmarks/bench_drift_calibration.py).
"""

import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from pytest_genquality.metrics.collapse import (
    FLOOR_FRACTION,
    NearestNeighbourSubsets,
    log_nn_distance,
    near_duplicates,
    nearest_neighbour_distances,
)
from pytest_genquality.stats import (
    AUTO_MARGIN_SDS,
    DRIFT_ALPHA,
    NORMAL_TEST_NOISE_FACTOR,
    normal_margin_test,
    seed_noise_sd,
)

from toy import project_conftest, pytester_project


def gaussian_rows(count, dim=24, seed=0):
    return np.random.default_rng(seed).standard_normal((count, dim)) * np.sqrt(1.0 / np.arange(1, dim + 1))


# ---- the statistic -----------------------------------------------------------------------------
def test_nearest_neighbours_match_a_brute_force_cdist():
    rows = gaussian_rows(300, seed=1).astype(np.float32)
    distances = cdist(rows.astype(np.float64), rows.astype(np.float64))
    np.fill_diagonal(distances, np.inf)
    expected = distances.min(axis=1)
    np.testing.assert_allclose(nearest_neighbour_distances(rows), expected, rtol=1e-9, atol=1e-12)
    assert log_nn_distance(rows) == pytest.approx(np.mean(np.log(expected)), rel=1e-12)


def test_invariant_to_rotation_and_translation_and_shifted_by_log_scale():
    rows = gaussian_rows(200, seed=2)
    rotation, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((24, 24)))
    value = log_nn_distance(rows)
    assert log_nn_distance(rows @ rotation + 5.0) == pytest.approx(value, abs=1e-9)
    assert log_nn_distance(rows * 0.95) == pytest.approx(value + math.log(0.95), abs=1e-9)


def test_a_planted_cluster_lowers_it_and_is_counted_as_near_duplicates():
    rows = gaussian_rows(256, seed=4)
    collapsed = rows.copy()
    members = np.arange(0, 256, 32)  # 8 of 256 seeds land next to seed 0
    collapsed[members] = rows[0] + 0.01 * rows[members]
    assert near_duplicates(rows) <= 2
    assert near_duplicates(collapsed) >= len(members)
    assert log_nn_distance(collapsed) < log_nn_distance(rows) - 0.05


def test_exact_duplicates_are_floored_not_minus_infinity():
    rows = gaussian_rows(50, seed=5)
    rows[1] = rows[0]
    value = log_nn_distance(rows)
    nearest = nearest_neighbour_distances(rows)
    assert np.isfinite(value)
    floor = FLOOR_FRACTION * np.median(nearest)
    assert value == pytest.approx(np.mean(np.log(np.maximum(nearest, floor))))


def test_subset_evaluator_equals_the_function_on_each_subset():
    pooled = gaussian_rows(120, seed=6)
    subsets = NearestNeighbourSubsets(pooled)
    rng = np.random.default_rng(7)
    for _ in range(5):
        indices = rng.choice(120, size=60, replace=False)
        assert subsets.log_nn_distance(indices) == pytest.approx(log_nn_distance(pooled[indices]), rel=1e-10)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="features: got 1 rows; expected at least 2"):
        log_nn_distance(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="features: contains non-finite"):
        log_nn_distance(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="features: expected a 2-D feature matrix"):
        log_nn_distance(np.zeros(5))
    with pytest.raises(ValueError, match=r"ratio: expected a number in \(0, 1\]"):
        near_duplicates(gaussian_rows(10), ratio=0.0)
    with pytest.raises(ValueError, match="indices: need at least 2 rows"):
        NearestNeighbourSubsets(gaussian_rows(10)).log_nn_distance([3])


# ---- the normal margin test --------------------------------------------------------------------
def test_normal_margin_test_is_the_normal_tail_beyond_the_margin():
    result = normal_margin_test(-0.5, worse_sign=-1, margin=0.1, noise_sd=0.2)
    assert result.method == "normal" and result.worsening == pytest.approx(0.5)
    assert result.p_value == pytest.approx(0.5 * math.erfc(0.4 / 0.2 / math.sqrt(2)))
    assert result.significant_worsening is False  # z = 2 is p = 0.023 > 0.0025
    assert normal_margin_test(-0.8, worse_sign=-1, margin=0.1, noise_sd=0.2).significant_worsening
    better = normal_margin_test(0.8, worse_sign=-1, margin=0.1, noise_sd=0.2)
    assert better.significant_improvement and not better.significant_worsening
    inside = normal_margin_test(0.05, worse_sign=1, margin=0.1, noise_sd=0.2)
    assert inside.method == "inside-margin" and inside.p_value == 1.0


def test_normal_margin_test_validates_its_arguments():
    with pytest.raises(ValueError, match="worse_sign"):
        normal_margin_test(0.1, worse_sign=0, margin=0.1, noise_sd=0.1)
    with pytest.raises(ValueError, match="margin"):
        normal_margin_test(0.1, worse_sign=1, margin=-1.0, noise_sd=0.1)
    with pytest.raises(ValueError, match="noise_sd"):
        normal_margin_test(0.1, worse_sign=1, margin=0.1, noise_sd=float("nan"))


def collapse_gate(baseline, current):
    """What assert_no_collapse runs: the stored noise (x the factor), the default margin, the normal test."""
    noise = seed_noise_sd(baseline, lambda pooled: NearestNeighbourSubsets(pooled).log_nn_distance)
    noise *= NORMAL_TEST_NOISE_FACTOR
    observed = log_nn_distance(current) - log_nn_distance(baseline)
    return normal_margin_test(observed, worse_sign=-1, margin=AUTO_MARGIN_SDS * noise, noise_sd=noise)


def seeded_rows(seeds, dim=256):  # Inception-like: many dimensions, power-law spectrum
    return np.stack([np.random.default_rng(int(s)).standard_normal(dim) for s in seeds]) * np.sqrt(
        1.0 / np.arange(1, dim + 1)
    )


def test_same_distribution_changes_stay_quiet():
    """A re-trained equivalent model (new seed -> sample map) and a seed-only change: 0 of 30 fail,
    and the largest worsening stays below the level that fails (margin + 2.58 SDs)."""
    worst = -np.inf
    for trial in range(30):
        baseline = seeded_rows(range(trial * 128, (trial + 1) * 128))
        current = seeded_rows(range(10_000_000 + trial * 128, 10_000_000 + (trial + 1) * 128))
        result = collapse_gate(baseline, current)
        assert not result.significant_worsening, (trial, result)
        worst = max(worst, result.worsening / result.noise_sd)
    assert worst < AUTO_MARGIN_SDS + 2.58


def test_a_3_percent_collapse_is_caught_though_only_4_of_128_pairs_differ():
    for trial in range(10):
        seeds = range(trial * 128, (trial + 1) * 128)
        baseline = seeded_rows(seeds)
        current = baseline.copy()
        members = np.arange(0, 128, 33)  # 4 seeds of 128
        current[members] = baseline[0] + 0.05 * baseline[members]
        result = collapse_gate(baseline, current)
        assert result.significant_worsening and result.p_value < DRIFT_ALPHA, (trial, result)


# ---- end to end (pytester) -----------------------------------------------------------------------
CONFTEST = project_conftest(
    extra="""
@pytest.fixture
def batch():
    '''Toy images of seeds 0..63; TOY_COLLAPSE=k sends every k-th seed to seed 0's image (plus one
    uint8 level in a seed-specific pixel, so the images stay distinct).'''
    import torch
    from pytest_genquality import ImageBatch
    images = toy_images(range(64)).images.clone()
    every = int(os.environ.get("TOY_COLLAPSE", "0"))
    if every:
        for seed in range(every, 64, every):
            images[seed] = images[0]
            images[seed, 0, seed % 16, seed // 16] ^= 1
    return ImageBatch(images, seeds=list(range(64)))
"""
)

TESTS = """
from pytest_genquality import assert_no_collapse

def test_spread(batch, extractor):
    assert_no_collapse(batch, extractor=extractor)
"""


@pytest.fixture
def project(pytester, monkeypatch):
    return pytester_project(pytester, monkeypatch, CONFTEST, clear_env=("TOY_COLLAPSE",), test_collapse_suite=TESTS)


def test_a_collapse_fails_naming_margin_worsening_p_and_duplicates_then_update_accepts_it(project, monkeypatch):
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    project.runpytest().assert_outcomes(passed=1)
    monkeypatch.setenv("TOY_COLLAPSE", "8")  # 7 of 64 seeds collapse onto seed 0
    collapsed = project.runpytest()
    collapsed.assert_outcomes(failed=1)
    collapsed.stdout.fnmatch_lines(
        [
            "*log NN distance drifted from its baseline: worse by *, beyond the margin * = 0.75 x seed-noise SD *: "
            "normal p=* < 0.0025*",
            "*near-duplicates  * of 64 images are closer to another image of the batch than 0.5 x the median*",
        ]
    )
    project.runpytest("--update-refs").assert_outcomes(passed=1)
    project.runpytest().assert_outcomes(passed=1)
