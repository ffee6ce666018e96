"""Precision/recall and density/coverage: closed forms, properties, chunking, validation."""

import importlib

import numpy as np
import pytest
import torch

from pytest_genquality.metrics import density_coverage, precision_recall


def features(n, d=64, *, shift=0.0, scale=1.0, seed=0):
    return np.random.default_rng(seed).normal(shift, scale, size=(n, d))


def test_identical_sets_are_perfect():
    real = features(200)
    assert precision_recall(real, real) == (1.0, 1.0)
    density, coverage = density_coverage(real, real)
    assert coverage == 1.0
    # ball i holds itself and its k-1 nearer neighbours strictly inside (the k-th is on the edge)
    assert density == pytest.approx(1.0, abs=1e-12)


def test_results_unpack_and_name_their_fields():
    real, fake = features(100, seed=1), features(100, seed=2)
    result = precision_recall(real, fake)
    assert result.precision == result[0] and result.recall == result[1]
    result = density_coverage(real, fake)
    assert result.density == result[0] and result.coverage == result[1]


def test_collapsed_fake_set_has_high_precision_but_low_recall_and_coverage():
    real = features(300, d=16, seed=1)
    collapsed = real[:3][np.arange(300) % 3] + features(300, d=16, scale=1e-3, seed=2)  # 3 modes
    precision, recall = precision_recall(real, collapsed)
    density, coverage = density_coverage(real, collapsed)
    healthy_recall = precision_recall(real, features(300, d=16, seed=3)).recall
    healthy_coverage = density_coverage(real, features(300, d=16, seed=3)).coverage
    assert precision > 0.95
    assert recall < 0.05 < 0.6 < healthy_recall
    assert coverage < 0.2 < 0.6 < healthy_coverage


def test_far_away_fake_set_scores_zero():
    real, fake = features(100, seed=1), features(100, shift=100.0, seed=2)
    assert precision_recall(real, fake) == (0.0, 0.0)
    assert density_coverage(real, fake) == (0.0, 0.0)


def test_values_lie_in_their_ranges():
    real, fake = features(150, seed=1), features(120, shift=0.3, seed=2)
    precision, recall = precision_recall(real, fake)
    density, coverage = density_coverage(real, fake)
    assert 0 < precision < 1 and 0 < recall < 1 and 0 < coverage < 1
    assert 0 < density <= 150 / 5


def test_strips_give_the_same_counts_as_one_block(monkeypatch):
    prdc_module = importlib.import_module("pytest_genquality.metrics.prdc")

    real, fake = features(130, seed=1), features(170, shift=0.2, seed=2)
    whole = (precision_recall(real, fake), density_coverage(real, fake))
    monkeypatch.setattr(prdc_module, "STRIP_BYTES", 8 * 170 * 7)  # 7-row strips
    monkeypatch.setattr(prdc_module, "COLUMN_BLOCK_ROWS", 16)
    assert (precision_recall(real, fake), density_coverage(real, fake)) == whole


def test_float32_tensors_are_accepted():
    real, fake = features(80, seed=1), features(80, shift=0.2, seed=2)
    assert precision_recall(torch.from_numpy(real).float(), torch.from_numpy(fake).float()) == pytest.approx(
        precision_recall(real.astype(np.float32), fake.astype(np.float32))
    )


@pytest.mark.parametrize("function", [precision_recall, density_coverage])
@pytest.mark.parametrize(
    "real, fake, error, match",
    [
        (np.zeros((10, 4)), np.zeros((10, 3)), ValueError, "fake: has 3 feature dimensions but real has 4"),
        (np.zeros((5, 4)), np.zeros((10, 4)), ValueError, "real: got 5 rows; expected at least 6"),
        (np.zeros((10, 4)), np.full((10, 4), np.nan), ValueError, "fake: contains non-finite"),
        (np.zeros((10, 4, 1)), np.zeros((10, 4)), ValueError, "real: expected a 2-D feature matrix"),
        (None, np.zeros((10, 4)), TypeError, "real: expected a numpy array or a torch tensor"),
    ],
)
def test_invalid_inputs_are_named(function, real, fake, error, match):
    with pytest.raises(error, match=match):
        function(real, fake, k=5)


def test_invalid_k_is_named():
    with pytest.raises(ValueError, match="k: expected an int >= 1, got 0"):
        precision_recall(features(10), features(10), k=0)


def brute_force(real, fake, k):
    """Whole float64 distance matrices; exact on small-integer features, so ties are real ties."""

    def sq_distances(x, y):
        return ((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1)

    real_radii = np.sort(sq_distances(real, real), axis=1)[:, k]
    fake_radii = np.sort(sq_distances(fake, fake), axis=1)[:, k]
    cross = sq_distances(real, fake)
    in_real_balls = cross < real_radii[:, None]
    return (
        in_real_balls.any(axis=0).mean(),
        (cross < fake_radii[None, :]).any(axis=1).mean(),
        in_real_balls.sum(axis=0).mean() / k,
        in_real_balls.any(axis=1).mean(),
    )


@pytest.mark.parametrize("recomputed_share", [None, 1.0, 0.0])  # default, always pair by pair, always products
@pytest.mark.parametrize("levels, d, k", [(3, 8, 3), (2, 16, 5), (5, 4, 1)])
def test_float32_screen_decides_ties_like_float64(monkeypatch, recomputed_share, levels, d, k):
    """Small-integer features make many distances equal to a radius: every such comparison must
    be settled as exact float64 arithmetic settles it (strictly inside or not), whichever path
    (screen + pair recomputation, or float64 strips) decides it."""
    prdc_module = importlib.import_module("pytest_genquality.metrics.prdc")
    if recomputed_share is not None:
        monkeypatch.setattr(prdc_module, "MAX_RECOMPUTED_SHARE", recomputed_share)
    rng = np.random.default_rng(levels * d + k)
    real = rng.integers(0, levels, size=(160, d)).astype(np.float32) * 7.0
    fake = rng.integers(0, levels, size=(140, d)).astype(np.float32) * 7.0
    fake[:20] = real[:20]  # exact duplicates across the sets
    expected = brute_force(real.astype(np.float64), fake.astype(np.float64), k)
    assert (*precision_recall(real, fake, k=k), *density_coverage(real, fake, k=k)) == pytest.approx(
        expected, abs=1e-12
    )


def test_large_offsets_leave_the_screen_undecided_but_not_wrong():
    """Features far from the origin (|x|^2 ~ 1e8 against distances ~ 1) make float32 useless for
    ranking: the error bound must then send comparisons to float64, not decide them wrongly."""
    rng = np.random.default_rng(5)
    real = 1e4 + rng.integers(0, 3, size=(120, 6)).astype(np.float64)
    fake = 1e4 + rng.integers(0, 3, size=(100, 6)).astype(np.float64)
    expected = brute_force(real, fake, 3)
    assert (*precision_recall(real, fake, k=3), *density_coverage(real, fake, k=3)) == pytest.approx(
        expected, abs=1e-12
    )


def test_radii_accept_a_plain_array_as_resampling_passes_them():
    """metrics.resampling.NeighbourhoodSubsets calls the radius function with an [N, D] array."""
    prdc_module = importlib.import_module("pytest_genquality.metrics.prdc")

    real = np.random.default_rng(3).integers(0, 4, size=(90, 8)).astype(np.float64)
    expected = np.sort(((real[:, None, :] - real[None, :, :]) ** 2).sum(-1), axis=1)[:, 3]
    np.testing.assert_array_equal(prdc_module._kth_neighbour_sq_radii(real, 3), expected)
