"""Precision/recall/density/coverage against the prdc package (Naeem et al.'s reference code)."""

import numpy as np
import pytest

from pytest_genquality.metrics import density_coverage, precision_recall

prdc = pytest.importorskip("prdc", reason="the prdc package is the precision/recall/density/coverage peer")


@pytest.mark.parametrize(
    "n_real, n_fake, d, shift, k",
    [
        (300, 250, 64, 0.2, 3),
        (300, 250, 64, 0.2, 5),
        (200, 400, 16, 0.5, 4),
        (150, 150, 64, 0.0, 1),
    ],
)
def test_matches_compute_prdc(n_real, n_fake, d, shift, k, capsys):
    rng = np.random.default_rng(n_real + k)
    real = rng.normal(0, 1, size=(n_real, d))
    fake = rng.normal(shift, 1.1, size=(n_fake, d))
    theirs = prdc.compute_prdc(real, fake, nearest_k=k)
    precision, recall = precision_recall(real, fake, k=k)
    density, coverage = density_coverage(real, fake, k=k)
    assert precision == pytest.approx(theirs["precision"], abs=1e-9)
    assert recall == pytest.approx(theirs["recall"], abs=1e-9)
    assert density == pytest.approx(theirs["density"], abs=1e-9)
    assert coverage == pytest.approx(theirs["coverage"], abs=1e-9)
    assert 0 < precision < 1 and 0 < coverage < 1
