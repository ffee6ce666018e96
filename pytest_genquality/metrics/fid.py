"""FID between two image sets, reference statistics or feature matrices.

Chooses the cheapest exact path: a side given as feature rows with N < d (a CI-sized batch)
goes through the N×N low-rank formula against the other side's Gaussian; a reference with a
stored sigma^½ saves one eigendecomposition.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .frechet import frechet_distance, frechet_distance_to_samples
from ..errors import ExtractorMismatchError  # noqa: F401  (0.2 import path)


def _side(value: Any, extractor, name: str) -> dict:
    """Normalise one side to {mu, sigma, rows, sqrt, extractor_id}."""
    if hasattr(value, "mu") and hasattr(value, "sigma"):  # ReferenceStats
        return {"mu": value.mu, "sigma": value.sigma, "rows": None,
                "sqrt": value.matrix_sqrt() if hasattr(value, "matrix_sqrt") else None,
                "extractor_id": value.extractor_id}
    if isinstance(value, np.ndarray) or (hasattr(value, "detach") and getattr(value, "is_floating_point", lambda: False)()):
        rows = value.detach().cpu().numpy() if hasattr(value, "detach") else value
        return {"mu": None, "sigma": None, "rows": np.asarray(rows, dtype=np.float64), "sqrt": None,
                "extractor_id": None}
    from ..batch import ImageBatch

    if isinstance(value, ImageBatch) or hasattr(value, "shape"):
        if extractor is None:
            from ..features.inception import InceptionFID

            extractor = InceptionFID()
        rows = extractor(value)["pool"]
        rows = rows.detach().cpu().numpy() if hasattr(rows, "detach") else rows
        return {"mu": None, "sigma": None, "rows": np.asarray(rows, dtype=np.float64), "sqrt": None,
                "extractor_id": getattr(extractor, "id", None)}
    raise TypeError(f"{name}: expected an ImageBatch, a uint8 image tensor, ReferenceStats or a float feature "
                    f"array [N, d], got {type(value).__name__}")


def _check_same_extractor(a: dict, b: dict) -> None:
    from ..features.extractor_ids import comparable, mismatch_hint

    if not comparable(a["extractor_id"], b["extractor_id"]):
        raise ExtractorMismatchError(
            f"a and b were made by different extractors ({a['extractor_id']} vs {b['extractor_id']}); FID between "
            f"them is meaningless. {mismatch_hint(a['extractor_id'], b['extractor_id'])}"
        )


def _gaussian(side: dict) -> tuple[np.ndarray, np.ndarray]:
    if side["mu"] is not None:
        return side["mu"], side["sigma"]
    rows = side["rows"]
    if rows.ndim != 2 or rows.shape[0] < 2:
        raise ValueError(f"features: expected [N >= 2, d], got shape {rows.shape}")
    return rows.mean(axis=0), np.cov(rows, rowvar=False)


def fid(a: Any, b: Any, extractor=None) -> float:
    """FID between ``a`` and ``b`` (ImageBatch, uint8 tensor, ReferenceStats or float features [N, d]).

    ``extractor``: the feature extractor for image inputs (default: ``InceptionFID()``, which
    finds the official weights or raises ``WeightsNotFoundError``).
    """
    side_a, side_b = _side(a, extractor, "a"), _side(b, extractor, "b")
    _check_same_extractor(side_a, side_b)
    for gaussian_side, sample_side in ((side_a, side_b), (side_b, side_a)):
        rows = sample_side["rows"]
        if rows is not None and rows.ndim == 2 and rows.shape[0] < rows.shape[1]:
            mu, sigma = _gaussian(gaussian_side)
            return frechet_distance_to_samples(mu, sigma, rows)
    mu_a, sigma_a = _gaussian(side_a)
    mu_b, sigma_b = _gaussian(side_b)
    if side_b["sqrt"] is not None and side_a["sqrt"] is None:
        return frechet_distance(mu_b, sigma_b, mu_a, sigma_a, sqrt_sigma1=side_b["sqrt"])
    return frechet_distance(mu_a, sigma_a, mu_b, sigma_b, sqrt_sigma1=side_a["sqrt"])
