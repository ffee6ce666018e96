"""Inception Score: closed forms, bounds and input validation."""

import numpy as np
import pytest
import torch

from pytest_genquality.metrics import inception_score


def test_confident_and_diverse_predictions_score_the_number_of_classes():
    classes = 20
    logits = np.tile(np.eye(classes) * 50.0, (5, 1))  # 100 samples, each class 5 times, one-hot
    mean, std = inception_score(logits, splits=1)
    assert mean == pytest.approx(classes, rel=1e-6)
    assert std == 0.0


def test_uniform_predictions_score_one():
    mean, std = inception_score(np.zeros((100, 1008)), splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_collapsed_predictions_score_one():
    logits = np.zeros((100, 10))
    logits[:, 3] = 40.0
    assert inception_score(logits, splits=5)[0] == pytest.approx(1.0, abs=1e-6)


def test_bounds_and_determinism_on_random_logits():
    logits = np.random.default_rng(0).normal(0, 4, size=(200, 50))
    mean, std = inception_score(logits)
    assert 1.0 <= mean <= 50.0 and std >= 0
    assert inception_score(torch.from_numpy(logits).float()) == pytest.approx((mean, std), rel=1e-5)
    assert inception_score(logits, seed=1) != (mean, std)


@pytest.mark.parametrize(
    "logits, kwargs, error, match",
    [
        (np.zeros((5, 10)), {}, ValueError, "logits: got 5 rows; expected at least 10"),
        (np.zeros((20, 1)), {}, ValueError, "logits: got 1 class column"),
        (np.zeros((20, 10, 1)), {}, ValueError, "logits: expected a 2-D"),
        (np.full((20, 10), np.nan), {}, ValueError, "logits: contains non-finite"),
        (np.zeros((20, 10)), {"splits": 0}, ValueError, "splits: expected an int >= 1"),
        ("logits", {}, TypeError, "logits: expected a numpy array or a torch tensor"),
    ],
)
def test_invalid_inputs_are_named(logits, kwargs, error, match):
    with pytest.raises(error, match=match):
        inception_score(logits, **kwargs)


def _entropy_of_counts(counts: np.ndarray) -> float:
    share = counts[counts > 0] / counts.sum()
    return float(-(share * np.log(share)).sum())


@pytest.mark.parametrize("scale", [2_000.0, 1e6, 1e300])
def test_underflowing_probabilities_give_the_closed_form_not_nan(scale):
    """One-hot logits of height ``scale``: every other class probability is exactly 0 in float64.

    For one-hot p(y|x) the KL to the chunk marginal is -log p(y_i), so each chunk's IS is
    exp(entropy of its class histogram). torch-fidelity's formula gives NaN here (0 * inf).
    """
    classes, splits, seed = 12, 4, 2020
    labels = np.random.default_rng(0).integers(0, classes, size=90)
    logits = np.zeros((90, 1008))
    logits[np.arange(90), labels] = scale
    logits[:, classes:] = -scale  # classes no sample uses: their marginal underflows too
    shuffled = labels[np.random.RandomState(seed).permutation(90)]
    expected = [
        np.exp(_entropy_of_counts(np.bincount(shuffled[i * 90 // splits : (i + 1) * 90 // splits], minlength=classes)))
        for i in range(splits)
    ]
    mean, std = inception_score(logits, splits=splits, seed=seed)
    assert mean == pytest.approx(np.mean(expected), rel=1e-12)
    assert std == pytest.approx(np.std(expected), rel=1e-9, abs=1e-12)
    assert 1.0 < mean <= classes


def test_wide_random_logits_are_finite_and_bounded():
    """Random logits spanning ~3000 (as random Inception weights give on noise images)."""
    logits = np.random.default_rng(3).normal(0, 500, size=(100, 1008)).astype(np.float32)
    mean, std = inception_score(logits)
    assert np.isfinite(mean) and np.isfinite(std)
    assert 1.0 <= mean <= 1008 and std >= 0
