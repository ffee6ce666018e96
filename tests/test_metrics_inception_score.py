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


@pytest.mark.parametrize("logits, kwargs, error, match", [
    (np.zeros((5, 10)), {}, ValueError, "logits: got 5 rows; expected at least 10"),
    (np.zeros((20, 1)), {}, ValueError, "logits: got 1 class column"),
    (np.zeros((20, 10, 1)), {}, ValueError, "logits: expected a 2-D"),
    (np.full((20, 10), np.nan), {}, ValueError, "logits: contains non-finite"),
    (np.zeros((20, 10)), {"splits": 0}, ValueError, "splits: expected an int >= 1"),
    ("logits", {}, TypeError, "logits: expected a numpy array or a torch tensor"),
])
def test_invalid_inputs_are_named(logits, kwargs, error, match):
    with pytest.raises(error, match=match):
        inception_score(logits, **kwargs)
