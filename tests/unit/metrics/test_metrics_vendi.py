"""Vendi score: closed-form cases (identical, orthogonal, k clusters), bounds, the dual Gram, validation."""

import numpy as np
import pytest

from pytest_genquality.metrics import vendi_score


def test_identical_rows_score_one_and_orthogonal_rows_score_n():
    row = np.random.default_rng(0).normal(size=(1, 32))
    assert vendi_score(np.repeat(row, 50, axis=0)) == pytest.approx(1.0, abs=1e-9)
    scales = np.random.default_rng(1).uniform(0.5, 3.0, size=(12, 1))
    orthogonal = np.linalg.qr(np.random.default_rng(2).normal(size=(40, 12)))[0].T * scales  # 12 rows in R^40
    assert vendi_score(orthogonal) == pytest.approx(12.0, rel=1e-9)
    assert vendi_score(orthogonal / scales, kernel="linear") == pytest.approx(12.0, rel=1e-9)


def test_k_equal_orthogonal_clusters_score_k_whatever_their_size():
    basis = np.eye(16)[:5]
    for size in (3, 40):
        rows = np.repeat(basis, size, axis=0)
        assert vendi_score(rows) == pytest.approx(5.0, rel=1e-9)


@pytest.mark.parametrize("n, d", [(30, 8), (8, 30), (200, 16)])
def test_bounds_and_rank(n, d):
    rows = np.random.default_rng(n).normal(size=(n, d))
    for kernel in ("cosine", "linear"):
        value = vendi_score(rows, kernel=kernel)
        assert 1.0 <= value <= min(n, d) + 1e-9
    low_rank = rows[:, :3] @ np.random.default_rng(3).normal(size=(3, d))
    assert vendi_score(low_rank) <= 3.0 + 1e-9


def test_primal_and_dual_gram_give_the_same_score(monkeypatch):
    """n > d takes XᵀX (in row blocks); the same rows with n <= d, padded with zero columns, take XXᵀ."""
    import importlib

    vendi_module = importlib.import_module("pytest_genquality.metrics.vendi")
    rows = np.random.default_rng(4).normal(size=(60, 10)) + 0.5
    padded = np.hstack([rows, np.zeros((60, 70))])  # d = 80 >= n: the n×n path
    dual = vendi_score(rows)
    assert dual == pytest.approx(vendi_score(padded), rel=1e-10)
    monkeypatch.setattr(vendi_module, "GRAM_BLOCK_ROWS", 7)
    assert vendi_score(rows) == pytest.approx(dual, rel=1e-12)


def test_less_diverse_is_lower_and_scale_does_not_matter():
    rng = np.random.default_rng(5)
    spread = rng.normal(size=(300, 24))
    collapsed = np.repeat(spread[:10], 30, axis=0) + 0.01 * rng.normal(size=(300, 24))
    assert vendi_score(collapsed) < 0.5 * vendi_score(spread)
    assert vendi_score(spread * 7.0, kernel="linear") == pytest.approx(vendi_score(spread, kernel="linear"), rel=1e-10)
    assert vendi_score(np.float32(spread)) == pytest.approx(vendi_score(spread), rel=1e-5)


@pytest.mark.parametrize(
    "features, kwargs, error, match",
    [
        (np.zeros((5, 4)), {}, ValueError, "features: row 0 has norm 0"),
        (np.zeros((5, 4)), {"kernel": "linear"}, ValueError, "features: every row is zero"),
        (np.ones((5, 4)), {"kernel": "rbf"}, ValueError, "kernel: expected one of"),
        (np.full((5, 4), np.nan), {}, ValueError, "features: contains non-finite"),
        (np.ones(5), {}, ValueError, "features: expected a 2-D feature matrix"),
        (np.ones((0, 4)), {}, ValueError, "features: got 0 rows"),
        ([[1.0, 2.0]], {}, TypeError, "features: expected a numpy array or a torch tensor"),
    ],
)
def test_invalid_inputs_are_named(features, kwargs, error, match):
    with pytest.raises(error, match=match):
        vendi_score(features, **kwargs)
