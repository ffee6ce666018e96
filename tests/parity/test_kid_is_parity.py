"""KID and IS against torch-fidelity (same subsets / shuffling by seed) and torchmetrics' KID math."""

import importlib

import numpy as np
import pytest
import torch

from pytest_genquality.metrics import inception_score, kid

fidelity_kid = pytest.importorskip("torch_fidelity.metric_kid", reason="torch-fidelity is the KID/IS peer")
fidelity_isc = pytest.importorskip("torch_fidelity.metric_isc", reason="torch-fidelity is the KID/IS peer")


def features(n, d=64, *, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(shift, 1.0, size=(n, d))


@pytest.mark.parametrize(
    "n_a, n_b, subsets, subset_size, seed",
    [
        (300, 250, 20, 100, 0),
        (120, 400, 10, 120, 5),  # one set used whole in every subset (whole-set tiled path)
        (500, 500, 3, 400, 11),
    ],
)
def test_kid_matches_torch_fidelity(n_a, n_b, subsets, subset_size, seed):
    a, b = features(n_a, seed=1), features(n_b, shift=0.2, seed=2)
    ours = kid(a, b, subsets=subsets, subset_size=subset_size, seed=seed)
    theirs = fidelity_kid.kid_features_to_metric(
        torch.from_numpy(a),
        torch.from_numpy(b),
        kid_subsets=subsets,
        kid_subset_size=subset_size,
        rng_seed=seed,
        verbose=False,
    )
    assert ours[0] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    assert ours[1] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-6)


@pytest.mark.parametrize("whole_set", [True, False], ids=["tiles", "per-subset"])
def test_mixed_precision_is_closer_to_float64_than_torch_fidelity(monkeypatch, whole_set):
    """The rule for KID's float32 steps: stay within torch-fidelity's own distance from an exact
    float64 computation on the same features (mirrors torch-fidelity's
    tests/precision/test_metric_kid_fidelity.py, which bounds its KID against the reference MMD-GAN
    code). Inception-like features: non-negative, 2048-d, a large common mean. Both paths: the
    tiles (float32 membership products) and one product per subset."""
    monkeypatch.setattr(
        importlib.import_module("pytest_genquality.metrics.kid"), "_whole_set_is_cheaper", lambda *args: whole_set
    )
    rng = np.random.default_rng(0)
    real = rng.gamma(2.0, 0.2, size=(600, 2048)).astype(np.float32)
    fake = (rng.gamma(2.0, 0.2, size=(600, 2048)) * 1.05).astype(np.float32)
    exact = kid(fake, real, subsets=10, subset_size=300, precision="float64")[0]
    mixed = kid(fake, real, subsets=10, subset_size=300)[0]
    theirs = fidelity_kid.kid_features_to_metric(
        torch.from_numpy(fake), torch.from_numpy(real), kid_subsets=10, kid_subset_size=300, rng_seed=0, verbose=False
    )
    their_error = abs(theirs["kernel_inception_distance_mean"] - exact)
    assert abs(mixed - exact) <= 2e-7 * abs(exact)  # 10x inside the 2e-6 torch-fidelity showed at 10k
    assert abs(mixed - exact) <= their_error


def test_kid_matches_torchmetrics_on_whole_sets():
    """torchmetrics draws subsets with torch.randperm: compare where that is deterministic."""
    torchmetrics_kid = pytest.importorskip("torchmetrics.image.kid", reason="torchmetrics is a KID peer")
    a, b = features(200, seed=1), features(200, shift=0.2, seed=2)
    ours, _ = kid(a, b, subsets=1, subset_size=200, precision="float64")  # the formula, all in float64
    k_xx = torchmetrics_kid.poly_kernel(torch.from_numpy(a), torch.from_numpy(a))
    k_yy = torchmetrics_kid.poly_kernel(torch.from_numpy(b), torch.from_numpy(b))
    k_xy = torchmetrics_kid.poly_kernel(torch.from_numpy(a), torch.from_numpy(b))
    theirs = float(torchmetrics_kid.maximum_mean_discrepancy(k_xx, k_xy, k_yy))
    assert ours == pytest.approx(theirs, rel=1e-9)
    assert ours > 0


@pytest.mark.parametrize("n, classes, splits, seed", [(500, 1008, 10, 2020), (203, 1008, 7, 3), (64, 30, 1, 0)])
def test_inception_score_matches_torch_fidelity(n, classes, splits, seed):
    logits = np.random.default_rng(n).normal(0, 3, size=(n, classes)).astype(np.float32)
    ours = inception_score(logits, splits=splits, seed=seed)
    theirs = fidelity_isc.isc_features_to_metric(torch.from_numpy(logits), splits=splits, rng_seed=seed)
    assert ours[0] == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    assert ours[1] == pytest.approx(theirs["inception_score_std"], rel=1e-6, abs=1e-12)
    assert ours[0] > 1.5


@pytest.mark.parametrize("scale", [20.0, 60.0])
def test_inception_score_matches_torch_fidelity_on_wide_finite_logits(scale):
    """Mirrors torch-fidelity tests/tf1/numerical_precision/test_metric_isc_fidelity.py (values
    within its tolerance) on logits spanning hundreds: the log-sum-exp marginal changes nothing
    where torch-fidelity's own formula is finite."""
    logits = torch.from_numpy(np.random.default_rng(7).normal(0, scale, size=(300, 1008)))
    theirs = fidelity_isc.isc_features_to_metric(logits, splits=10, rng_seed=2020)
    assert np.isfinite(theirs["inception_score_mean"])
    ours = inception_score(logits, splits=10, seed=2020)
    assert ours[0] == pytest.approx(theirs["inception_score_mean"], rel=1e-9)
    assert ours[1] == pytest.approx(theirs["inception_score_std"], rel=1e-7, abs=1e-12)


def test_inception_score_is_finite_where_torch_fidelity_underflows_to_nan():
    """Logits spanning 4000: torch-fidelity takes log of an exactly-0 marginal and returns NaN."""
    logits = torch.from_numpy(np.random.default_rng(8).normal(0, 1000, size=(100, 1008)))
    theirs = fidelity_isc.isc_features_to_metric(logits, splits=10, rng_seed=2020)
    ours = inception_score(logits, splits=10, seed=2020)
    assert np.isnan(theirs["inception_score_mean"])
    assert np.isfinite(ours[0]) and 1.0 <= ours[0] <= 1008
