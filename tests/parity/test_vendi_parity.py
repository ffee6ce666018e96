"""Vendi score against the authors' ``vendi-score`` package (Friedman & Dieng) on identical features."""

import numpy as np
import pytest

from pytest_genquality.metrics import vendi_score

vendi = pytest.importorskip("vendi_score.vendi", reason="the vendi-score package is the Vendi score peer")

# vendi-score 0.0.3 checks for scipy.sparse.csr.csr_matrix, a namespace scipy deprecates
pytestmark = pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")


@pytest.mark.parametrize("n, d, clusters", [(200, 64, 0), (64, 512, 0), (300, 32, 6), (40, 40, 3)])
def test_cosine_matches_score_x_and_score_dual(n, d, clusters):
    rng = np.random.default_rng(n + d)
    rows = rng.normal(size=(n, d))
    if clusters:
        rows = rows[rng.integers(0, clusters, size=n)] + 0.1 * rng.normal(size=(n, d))
    ours = vendi_score(rows)
    assert ours == pytest.approx(vendi.score_X(rows), rel=1e-9)  # n×n kernel, normalised rows
    assert ours == pytest.approx(vendi.score_dual(rows), rel=1e-9)  # d×d
    assert ours == pytest.approx(vendi.score_K(rows @ rows.T, normalize=True), rel=1e-9)


def test_linear_matches_score_k_with_unit_trace():
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(120, 20)) * rng.uniform(0.2, 5.0, size=(120, 1))
    gram = rows @ rows.T
    theirs = vendi.score_K(gram / np.mean(np.diag(gram)))  # K/n then has unit trace
    assert vendi_score(rows, kernel="linear") == pytest.approx(theirs, rel=1e-9)
