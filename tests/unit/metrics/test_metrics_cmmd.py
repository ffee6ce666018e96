"""CMMD: estimator properties, the paper's formula, growth with a shift, validation."""

import numpy as np
import pytest

from pytest_genquality.metrics import cmmd


def unit_rows(n, d=64, *, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(n, d))
    rows[:, 0] += shift
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def paper_formula(x, y, sigma):
    """The reference code's mmd(): plain means of the three full kernel matrices."""
    gamma = 1.0 / (2 * sigma**2)

    def mean_k(p, q):
        return np.mean(np.exp(-gamma * ((p[:, None, :] - q[None, :, :]) ** 2).sum(-1)))

    return 1000 * (mean_k(x, x) + mean_k(y, y) - 2 * mean_k(x, y))


def test_paper_estimator_equals_the_naive_formula():
    x, y = unit_rows(60, seed=1), unit_rows(50, shift=1.0, seed=2)
    for sigma in (10.0, 0.7):
        assert cmmd(x, y, sigma=sigma, estimator="paper") == pytest.approx(paper_formula(x, y, sigma), rel=1e-9)


def test_unbiased_estimator_averages_to_zero_over_splits_of_one_distribution():
    pool = unit_rows(4000, seed=3)
    rng = np.random.default_rng(4)
    unbiased, paper = [], []
    for _ in range(200):
        order = rng.permutation(len(pool))[:80]
        unbiased.append(cmmd(pool[order[:40]], pool[order[40:]]))
        paper.append(cmmd(pool[order[:40]], pool[order[40:]], estimator="paper"))
    spread = np.std(unbiased) / np.sqrt(len(unbiased))
    assert abs(np.mean(unbiased)) < 4 * spread
    assert np.mean(paper) > np.mean(unbiased) + 10 * spread  # the V-statistic's positive bias


def test_grows_with_a_shift_and_is_symmetric():
    base = unit_rows(200, seed=5)
    values = [cmmd(base, unit_rows(200, shift=s, seed=6)) for s in (0.0, 0.5, 1.0, 2.0)]
    assert values == sorted(values) and values[-1] > 10 * abs(values[0])
    other = unit_rows(150, shift=1.0, seed=7)
    assert cmmd(base, other) == pytest.approx(cmmd(other, base), rel=1e-12)


def test_paper_estimator_of_identical_sets_is_zero():
    x = unit_rows(30, seed=8)
    assert cmmd(x, x, estimator="paper") == pytest.approx(0.0, abs=1e-9)


def test_blocks_give_the_same_value(monkeypatch):
    import importlib

    cmmd_module = importlib.import_module("pytest_genquality.metrics.cmmd")
    x, y = unit_rows(90, seed=1), unit_rows(70, shift=0.5, seed=2)
    whole = cmmd(x, y)
    monkeypatch.setattr(cmmd_module, "BLOCK_ROWS", 8)
    assert cmmd(x, y) == pytest.approx(whole, rel=1e-12)


@pytest.mark.parametrize(
    "emb_a, emb_b, kwargs, error, match",
    [
        (np.zeros((10, 4)), np.zeros((10, 5)), {}, ValueError, "emb_b: has 5 feature dimensions but emb_a has 4"),
        (np.zeros((1, 4)), np.zeros((10, 4)), {}, ValueError, "emb_a: got 1 rows; expected at least 2"),
        (np.zeros((10, 4)), np.full((10, 4), np.nan), {}, ValueError, "emb_b: contains non-finite"),
        (np.zeros((10, 4)), np.zeros((10, 4)), {"sigma": 0}, ValueError, "sigma: expected a finite number > 0"),
        (np.zeros((10, 4)), np.zeros((10, 4)), {"estimator": "biased"}, ValueError, "estimator: expected one of"),
        ("emb", np.zeros((10, 4)), {}, TypeError, "emb_a: expected a numpy array"),
    ],
)
def test_invalid_inputs_are_named(emb_a, emb_b, kwargs, error, match):
    with pytest.raises(error, match=match):
        cmmd(emb_a, emb_b, **kwargs)
