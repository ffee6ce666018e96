"""KID: properties and input validation (parity with torch-fidelity is in tests/parity/)."""

import importlib

import numpy as np
import pytest
import torch

from pytest_genquality.metrics import kid


def features(n, d=64, *, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(shift, 1.0, size=(n, d))


def test_same_distribution_is_near_zero_and_a_shift_is_not():
    same, _ = kid(features(400, seed=1), features(400, seed=2), subsets=20, subset_size=200)
    shifted, _ = kid(features(400, seed=1), features(400, shift=0.5, seed=2), subsets=20, subset_size=200)
    assert abs(same) < 0.02
    assert shifted > 10 * max(abs(same), 1e-3)


def test_grows_with_the_shift():
    values = [
        kid(features(200, seed=1), features(200, shift=s, seed=2), subsets=5, subset_size=100)[0]
        for s in (0.2, 0.5, 1.0)
    ]
    assert values[0] < values[1] < values[2]


def test_seed_fixes_the_value_and_changes_with_it():
    a, b = features(300, seed=1), features(300, shift=0.3, seed=2)
    first = kid(a, b, subsets=10, subset_size=100, seed=7)
    assert kid(a, b, subsets=10, subset_size=100, seed=7) == first
    assert kid(a, b, subsets=10, subset_size=100, seed=8) != first


def test_float32_torch_and_float64_numpy_agree():
    a, b = features(150, seed=1).astype(np.float32), features(150, shift=0.3, seed=2).astype(np.float32)
    from_numpy = kid(a.astype(np.float64), b.astype(np.float64), subsets=5, subset_size=100)
    from_torch = kid(torch.from_numpy(a), torch.from_numpy(b), subsets=5, subset_size=100)
    assert from_torch == pytest.approx(from_numpy, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "tile_rows, tile_cols, gemm_cols", [(1000, 1000, 500), (7, 3, 2), (16, 5, 5), (4, 16, 3), (16, 16, 5)]
)
def test_tiled_and_per_subset_paths_agree(monkeypatch, tile_rows, tile_cols, gemm_cols, dtype):
    """Every tile shape, including ones that straddle the diagonal band and set ends, and tiles
    filled in several products, gives the per-subset value (a pair counted twice or a self-pair
    kept would show at 1e-3). float32 features are multiplied as they are (raw columns, one
    product per tile), float64 ones through float32 copies filled GEMM_COLS at a time."""
    kid_module = importlib.import_module("pytest_genquality.metrics.kid")

    a, b = features(120, seed=1).astype(dtype), features(90, shift=0.3, seed=2).astype(dtype)
    monkeypatch.setattr(kid_module, "_whole_set_is_cheaper", lambda *args: False)
    per_subset = {
        precision: kid(a, b, subsets=50, subset_size=60, seed=3, precision=precision)
        for precision in ("float64", "mixed")
    }
    monkeypatch.setattr(kid_module, "_whole_set_is_cheaper", lambda *args: True)
    monkeypatch.setattr(kid_module, "TILE_ROWS", tile_rows)
    monkeypatch.setattr(kid_module, "TILE_COLS", tile_cols)
    monkeypatch.setattr(kid_module, "GEMM_COLS", gemm_cols)
    tiled = {
        precision: kid(a, b, subsets=50, subset_size=60, seed=3, precision=precision)
        for precision in ("float64", "mixed")
    }
    assert tiled["float64"] == pytest.approx(per_subset["float64"], rel=1e-10)
    assert tiled["mixed"] == pytest.approx(per_subset["mixed"], rel=1e-7)  # float32 products, summed in another order


@pytest.mark.parametrize("offset, raw_columns", [(0.0, True), (3.5, True), (4.5, False), (1000.0, False)])
def test_mixed_precision_is_float64_up_to_float32_products_of_centred_features(offset, raw_columns):
    """The kernel's centred part in float32, its offset part and every subset sum in float64:
    within 1e-7 of all-float64 (torch-fidelity, float32 throughout, is ~3e-6 away on
    Inception-like features). The 1000 offset makes uncentred float32 products lose every digit
    of the MMD (dot products ~6e7, round-off ~4), and so would float32 offsets u_x ~ 1e2.
    Offset 3.5 is about the largest (mean ||y||^2 / mean ||y - c||^2 = 15.1 for b; RAW_OFFSET_RATIO 16)
    whose tiles still multiply by the uncentred features; at 4.5 (23.5) they are centred copies."""
    kid_module = importlib.import_module("pytest_genquality.metrics.kid")
    a = (features(300, seed=1) + offset).astype(np.float32)
    b = (features(260, shift=0.3, seed=2) + offset).astype(np.float32)
    assert kid_module._Products.pair(a, b, "mixed", gamma=1 / 64)[0].raw_columns is raw_columns
    assert not kid_module._Products.pair(a, b, "float64", gamma=1 / 64)[0].raw_columns
    exact = kid(a, b, subsets=20, subset_size=200, seed=1, precision="float64")
    mixed = kid(a, b, subsets=20, subset_size=200, seed=1)
    assert exact[0] > 0.01
    assert mixed[0] == pytest.approx(exact[0], rel=1e-7)
    assert mixed[1] == pytest.approx(exact[1], rel=1e-6)


def test_raw_columns_take_off_the_offsets_of_the_rounded_rows():
    """Inception-like features (non-negative, common mean 0.4, d = 512), float32: the tiles
    multiply centred rows by the raw features and take off each row's (x - c).c. Taken from x
    instead of from the rounded x - c, every row of a tile is off by the same 1e-7 relative, and
    the mean lands 1.4e-7 from float64; from the rounded rows it is 1.9e-8 (torch-fidelity: 3e-6)."""
    rng = np.random.default_rng(0)
    a = rng.gamma(2.0, 0.2, size=(400, 512)).astype(np.float32)
    b = (rng.gamma(2.0, 0.2, size=(400, 512)) * 1.05).astype(np.float32)
    exact = kid(a, b, subsets=20, subset_size=200, seed=1, precision="float64")
    mixed = kid(a, b, subsets=20, subset_size=200, seed=1)
    assert mixed[0] == pytest.approx(exact[0], rel=6e-8)
    assert mixed[1] == pytest.approx(exact[1], rel=2e-7)


def test_float32_overflow_is_redone_in_float64():
    """Features of 1e7 make the centred part overflow float32 (w^2 P ~ 1e40): the mixed result is
    then the float64 one, not inf or NaN."""
    a, b = features(60, seed=1) * 1e7 + 1e8, features(60, shift=0.3, seed=2) * 1e7 + 1e8
    exact = kid(a, b, subsets=3, subset_size=40, precision="float64")
    assert np.isfinite(exact[0]) and exact[0] != 0
    assert kid(a, b, subsets=3, subset_size=40) == exact


def test_path_choice_follows_the_work():
    kid_module = importlib.import_module("pytest_genquality.metrics.kid")

    assert kid_module._whole_set_is_cheaper(10_000, 10_000, 100, 1000, 2048)  # each pair drawn ~once
    assert kid_module._whole_set_is_cheaper(256, 2000, 100, 256, 2048)
    assert not kid_module._whole_set_is_cheaper(50_000, 50_000, 100, 1000, 2048)


def test_whole_set_subsets_have_zero_spread():
    a, b = features(80, seed=1), features(80, shift=0.3, seed=2)
    mean, std = kid(a, b, subsets=4, subset_size=80)
    assert mean > 0
    assert std == pytest.approx(0.0, abs=1e-12)


def test_subset_size_is_clipped_with_a_warning_and_carried_by_the_result():
    a, b = features(50, seed=1), features(70, seed=2)
    with pytest.warns(UserWarning, match="subset_size=1000 is larger"):
        clipped = kid(a, b, subsets=3)
    assert clipped == kid(a, b, subsets=3, subset_size=50)
    assert clipped.subset_size == 50 and clipped.subsets == 3
    assert (clipped.mean, clipped.std) == tuple(clipped)
    assert "subset_size=50" in repr(clipped)
    assert kid(a, b, subsets=3, subset_size=20).subset_size == 20


@pytest.mark.parametrize(
    "feats_a, feats_b, error, match",
    [
        (np.zeros((10, 4)), np.zeros((10, 5)), ValueError, "feats_b: has 5 feature dimensions but feats_a has 4"),
        (np.zeros((1, 4)), np.zeros((10, 4)), ValueError, "feats_a: got 1 rows; expected at least 2"),
        (np.zeros(10), np.zeros((10, 4)), ValueError, "feats_a: expected a 2-D feature matrix"),
        (np.full((10, 4), np.nan), np.zeros((10, 4)), ValueError, "feats_a: contains non-finite"),
        (np.zeros((10, 4)), np.full((10, 4), np.inf), ValueError, "feats_b: contains non-finite"),
        ([[0.0] * 4] * 10, np.zeros((10, 4)), TypeError, "feats_a: expected a numpy array or a torch tensor"),
        (np.zeros((10, 4), dtype=bool), np.zeros((10, 4)), TypeError, "feats_a: expected real numbers"),
    ],
)
def test_invalid_features_are_named(feats_a, feats_b, error, match):
    with pytest.raises(error, match=match):
        kid(feats_a, feats_b, subset_size=5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"subsets": 0}, ValueError, "subsets: expected an int >= 1, got 0"),
        ({"subset_size": 1}, ValueError, "subset_size: expected an int >= 2, got 1"),
        ({"subsets": 2.5}, TypeError, "subsets: expected an int"),
        ({"seed": -1}, ValueError, "seed: expected an int >= 0"),
        ({"precision": "float32"}, ValueError, r"precision: expected one of \('mixed', 'float64'\), got 'float32'"),
    ],
)
def test_invalid_parameters_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        kid(features(10), features(10), **kwargs)
