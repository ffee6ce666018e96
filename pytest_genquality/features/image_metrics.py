"""Metrics on images that need a network: the network turns images into features (or a
distance), then ``metrics`` computes the number. ``metrics`` itself stays arrays in, numbers out.

- ``fid(a, b, extractor=None)``: FID between image sets, reference statistics or feature rows;
  images go through ``extractor`` (default ``InceptionFID()``), and both sides must come from
  comparable extractors.
- ``lpips(a, b, net="alex")``: LPIPS per image pair with the network built from found weights.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..batch import ImageBatch
from ..errors import ExtractorMismatchError
from ..metrics.frechet import frechet_distance, frechet_distance_to_samples
from ..metrics.perceptual import lpips_distance
from ..metrics.validation import as_image_pairs, to_numpy
from .extractor_ids import comparable, mismatch_hint


def _side(value: Any, extractor, name: str) -> dict:
    """Normalise one side to {mu, sigma, rows, sqrt, extractor_id}."""
    if hasattr(value, "mu") and hasattr(value, "sigma"):  # ReferenceStats
        return {
            "mu": value.mu,
            "sigma": value.sigma,
            "rows": None,
            "sqrt": value.matrix_sqrt() if hasattr(value, "matrix_sqrt") else None,
            "extractor_id": value.extractor_id,
        }
    if isinstance(value, np.ndarray) or (isinstance(value, torch.Tensor) and value.is_floating_point()):
        return {
            "mu": None,
            "sigma": None,
            "rows": np.asarray(to_numpy(value), dtype=np.float64),
            "sqrt": None,
            "extractor_id": None,
        }
    if isinstance(value, ImageBatch) or hasattr(value, "shape"):
        if extractor is None:
            from .inception import InceptionFID

            extractor = InceptionFID()
        rows = extractor(value)["pool"]
        return {
            "mu": None,
            "sigma": None,
            "rows": np.asarray(to_numpy(rows), dtype=np.float64),
            "sqrt": None,
            "extractor_id": getattr(extractor, "id", None),
        }
    raise TypeError(
        f"{name}: expected an ImageBatch, a uint8 image tensor, ReferenceStats or a float feature "
        f"array [N, d], got {type(value).__name__}"
    )


def _check_same_extractor(a: dict, b: dict) -> None:
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


def lpips(
    a,
    b,
    *,
    net: str = "alex",
    weights: str | os.PathLike | None = None,
    lin_weights: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """LPIPS v0.1 distance per pair, float64 [N].

    a, b: ImageBatch or uint8 tensors [N, 3, H, W], image i of a paired with image i of b
    (at least 31 x 31 pixels for AlexNet's strides, 16 x 16 for VGG16's: ``LPIPS_MIN_IMAGE_SIDE``).
    net: "alex" (default, the lpips package's recommendation for a metric) or "vgg".
    weights: the torchvision backbone file (default: searched by ``resolve_weights``).
    lin_weights: the linear layers (default: those shipped with the ``lpips`` package).
    """
    from .lpips_net import NETS, default_lin_weights
    from .weights import resolve_weights

    images_a, _ = as_image_pairs(a, b)  # a wrong input is named before any weights are searched for
    if net not in NETS:
        raise ValueError(f"net: expected one of {sorted(NETS)}, got {net!r}")
    _check_lpips_image_side(images_a, net)
    backbone = resolve_weights(NETS[net][0], weights)
    lin_path = Path(lin_weights).expanduser() if lin_weights is not None else default_lin_weights(net)
    network = _network(net, str(backbone.resolve()), str(lin_path.resolve()), str(torch.device(device)))
    return lpips_distance(a, b, network)


# Smallest height and width each LPIPS backbone's strides and poolings accept (found by trying every
# size: AlexNet's stride-4 11x11 conv and two 3x3/2 max-pools leave nothing below 31 px; VGG16's taps
# stop before its fourth pooling, so 16 px is enough).
LPIPS_MIN_IMAGE_SIDE = {"alex": 31, "vgg": 16}


def _check_lpips_image_side(images: torch.Tensor, net: str) -> None:
    """A clear error instead of torch's "Output size is too small" from deep inside the backbone."""
    height, width = images.shape[-2:]
    minimum = LPIPS_MIN_IMAGE_SIDE[net]
    if min(height, width) >= minimum:
        return
    others = [
        f"net={other!r} (>= {side} px)"
        for other, side in LPIPS_MIN_IMAGE_SIDE.items()
        if other != net and min(height, width) >= side
    ]
    alternatives = " or ".join([*others, "a pixel metric: 'psnr' or 'ssim' (any size)"])
    raise ValueError(
        f"images: LPIPS with net={net!r} needs images of at least {minimum} x {minimum} pixels, got {height} x "
        f"{width}; use {alternatives}, or upscale the images before comparing"
    )


@functools.lru_cache(maxsize=4)
def _network(net: str, weights: str, lin_weights: str, device: str):
    """Built once per (net, files, device): loading a backbone costs far more than a batch."""
    from .lpips_net import LPIPSNet

    return LPIPSNet(net, weights=weights, lin_weights=lin_weights).to(device)
